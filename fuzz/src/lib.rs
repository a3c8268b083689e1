//! Helpers shared by the fuzz targets (`fuzz_targets/*.rs`).

/// Cuts a byte stream into the pieces a socket might deliver: lengths drawn from a small PRNG
/// seeded by the input, so every input replays the same split and libFuzzer can mutate the
/// split points by changing the seed alone.
pub struct Pieces<'a> {
    rest: &'a [u8],
    state: u32,
}

impl<'a> Pieces<'a> {
    pub fn new(data: &'a [u8], seed: u8) -> Self {
        Self {
            rest: data,
            state: 0x9E37_79B9 ^ u32::from(seed).wrapping_mul(0x0101_0101),
        }
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.rest.is_empty() {
            return None;
        }
        // xorshift32: cheap and never stuck at 0 (the seed mix above is never 0).
        self.state ^= self.state << 13;
        self.state ^= self.state >> 17;
        self.state ^= self.state << 5;
        // Mostly short reads (header boundaries), sometimes long ones (whole messages).
        let len = match self.state % 4 {
            0 => 1 + (self.state >> 8) as usize % 4,
            1 => 1 + (self.state >> 8) as usize % 64,
            2 => 1 + (self.state >> 8) as usize % 4096,
            _ => self.rest.len(),
        };
        let (piece, rest) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = rest;
        Some(piece)
    }
}

/// Splits `data` at every occurrence of `separator` (used to put several frames or
/// messages in one input while keeping the input a plain byte string that seeds can be).
pub fn split_on<'a>(data: &'a [u8], separator: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let current = rest?;
        match current
            .windows(separator.len())
            .position(|w| w == separator)
        {
            Some(at) => {
                rest = Some(&current[at + separator.len()..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
