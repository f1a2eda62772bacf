//! Small helpers for targets whose input is a few header octets then real protocol octets,
//! so that the committed corpus can hold real dialogs, replies and messages.
#![allow(dead_code)] // Each target uses a part.

/// Cuts `bytes` into reads whose lengths follow `seed`: 0 keeps it whole, any other value
/// gives lengths from 1 to `seed` in a fixed pseudo-random order.
pub fn cut(bytes: &[u8], seed: u8) -> Vec<&[u8]> {
    if seed == 0 {
        return vec![bytes];
    }
    let mut state = u32::from(seed);
    let mut pieces = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
        let len = ((state >> 16) % u32::from(seed)) as usize + 1;
        let (piece, tail) = rest.split_at(len.min(rest.len()));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

/// Reads header octets: `take::<N>()` gives the next N octets (zeros past the end).
pub struct Header<'a> {
    data: &'a [u8],
}

impl<'a> Header<'a> {
    pub fn new(data: &'a [u8]) -> Header<'a> {
        Header { data }
    }

    pub fn u8(&mut self) -> u8 {
        let (&first, rest) = self.data.split_first().unwrap_or((&0, &[]));
        self.data = rest;
        first
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}
