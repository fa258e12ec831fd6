// age secret keys (AGE-SECRET-KEY-1…) are Bech32 (BIP 173) strings: human-readable part
// `age-secret-key-`, 32 bytes of key, a 6-character checksum. kustomize-controller refuses a key whose
// checksum is wrong only when it decrypts ("malformed secret key: invalid checksum"), long after `pulumi
// up`: the config validation checks it first.
const CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
const HRP = "age-secret-key-";

function polymod(values: number[]): number {
    let checksum = 1;
    for (const value of values) {
        const top = checksum >>> 25;
        checksum = ((checksum & 0x1ffffff) << 5) ^ value;
        for (let i = 0; i < 5; i++) if ((top >>> i) & 1) checksum ^= GENERATOR[i];
    }
    return checksum;
}

const expandedHrp = [...HRP].map((c) => c.charCodeAt(0) >> 5).concat([0], [...HRP].map((c) => c.charCodeAt(0) & 31));

/** True when `key` is an age secret key with a valid Bech32 checksum over 32 bytes. */
export function isAgeSecretKey(key: string): boolean {
    if (!/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/.test(key)) return false;
    const data = [...key.slice(HRP.length + 1).toLowerCase()].map((c) => CHARSET.indexOf(c));
    return !data.includes(-1) && polymod([...expandedHrp, ...data]) === 1;
}

/** The age secret key of 32 bytes (what `age-keygen` prints), for tests and fixtures. */
export function encodeAgeSecretKey(key: Uint8Array): string {
    if (key.length !== 32) throw new Error(`an age secret key has 32 bytes, got ${key.length}`);
    const groups: number[] = [];
    let accumulator = 0;
    let bits = 0;
    for (const byte of key) {
        accumulator = (accumulator << 8) | byte;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            groups.push((accumulator >>> bits) & 31);
        }
    }
    if (bits > 0) groups.push((accumulator << (5 - bits)) & 31);
    const mod = polymod([...expandedHrp, ...groups, 0, 0, 0, 0, 0, 0]) ^ 1;
    const checksum = [0, 1, 2, 3, 4, 5].map((i) => (mod >>> (5 * (5 - i))) & 31);
    return `${HRP}1${[...groups, ...checksum].map((g) => CHARSET[g]).join("")}`.toUpperCase();
}
