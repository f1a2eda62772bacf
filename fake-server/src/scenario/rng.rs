//! A small deterministic generator (SplitMix64) for scenarios that ask for randomness: the
//! same seed gives the same run. Not for anything secret.

#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// `len` characters from [0-9a-zA-Z].
    pub fn alphanumeric(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        (0..len)
            .map(|_| CHARS[(self.next_u64() % CHARS.len() as u64) as usize] as char)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        assert_eq!(a.alphanumeric(16), b.alphanumeric(16));
        assert_eq!(a.next_u64(), b.next_u64());
        assert_ne!(SplitMix64::new(8).next_u64(), SplitMix64::new(7).next_u64());
        let x = a.next_f64();
        assert!((0.0..1.0).contains(&x));
    }
}
