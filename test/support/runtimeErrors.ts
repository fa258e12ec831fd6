// What a Pulumi program run would report, for tests under mocks.

/**
 * Lets the mocked registrations run their course. Under mocks a registration is a chain of promise
 * callbacks and no timer, so it takes event-loop turns, not time: counting turns keeps this independent
 * of how busy the machine is (a fixed delay ran out on a loaded one). A failed resource's dependents
 * never resolve, so there is no event to wait for; 1,000 turns is far more than any chain here needs.
 */
export async function settle(): Promise<void> {
    for (let turn = 0; turn < 1000; turn++) await new Promise((resolve) => setImmediate(resolve));
}

/**
 * The errors the Pulumi runtime would print: in a real run, unhandled rejections reach its handler,
 * which reports each distinct error object once (cmd/run/run.js). Mocha re-emits them on `process`.
 */
export async function reportedErrors(run: () => Promise<void>): Promise<Error[]> {
    const errors: Error[] = [];
    const listener = (e: unknown) => {
        if (e instanceof Error && !errors.includes(e)) errors.push(e);
    };
    process.on("unhandledRejection", listener);
    try {
        await run();
        await settle();
    } finally {
        process.off("unhandledRejection", listener);
    }
    return errors;
}
