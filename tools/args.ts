// Command-line options of the tools (plan, render): an option that takes a value must get one.

/**
 * The value of `--name VALUE` at argv[index] (or of `--name=VALUE` in argv[index] itself). A missing value,
 * or the next option where the value should be, is an error that names the option and the usage.
 */
export function optionValue(argv: string[], index: number, usage: string): { value: string; next: number } {
    const arg = argv[index];
    const eq = arg.indexOf("=");
    const [name, value, next] = eq >= 0 ? [arg.slice(0, eq), arg.slice(eq + 1), index] : [arg, argv[index + 1], index + 1];
    if (value === undefined || value === "" || (eq < 0 && value.startsWith("-"))) {
        throw new Error(`${name} needs a value (got ${value === undefined ? "nothing" : JSON.stringify(value)}); usage: ${usage}`);
    }
    return { value, next };
}
