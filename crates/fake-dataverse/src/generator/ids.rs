//! Ids of generated rows: a keyed bijection on 48 bits, and the per-table constant part.

/// Third group and the last eight bytes of a (seed, table)'s ids.
pub(super) fn id_suffix(key: u64) -> (u16, [u8; 8]) {
    // Third groups seen in live ids: ea11 (2020) … f011 (2025).
    const THIRD: [u16; 7] = [0xea11, 0xeb11, 0xec11, 0xed11, 0xee11, 0xef11, 0xf011];
    // Azure MAC prefixes seen as the node of live ids.
    const NODE_PREFIX: [[u8; 3]; 3] = [[0x00, 0x0d, 0x3a], [0x00, 0x22, 0x48], [0x60, 0x45, 0xbd]];
    let bits = splitmix(key ^ 0x05EE_D1D5);
    let third = THIRD[(bits % THIRD.len() as u64) as usize];
    let prefix = NODE_PREFIX[((bits >> 8) % NODE_PREFIX.len() as u64) as usize];
    let bytes = (bits >> 16).to_le_bytes();
    let fourth = [
        0x80 | (bytes[0] & 0x3f),
        bytes[1],
        prefix[0],
        prefix[1],
        prefix[2],
        bytes[2],
        bytes[3],
        bytes[4],
    ];
    (third, fourth)
}

pub(super) fn table_key(seed: u64, table: &str) -> u64 {
    splitmix(seed ^ splitmix(fnv1a(table)))
}

/// SplitMix64's finaliser: a fast, stateless 64-bit mix.
pub(super) const fn splitmix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub(super) const fn fnv1a(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut at = 0;
    while at < bytes.len() {
        hash = (hash ^ bytes[at] as u64).wrapping_mul(0x0000_0100_0000_01b3);
        at += 1;
    }
    hash
}
