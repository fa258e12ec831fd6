// What a Pulumi program run would report, for tests under mocks.

/** Lets the mocked registrations run their course. */
export const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

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
