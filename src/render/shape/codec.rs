//! The kept bytes' encoding: numbers in seven-bit groups, low first, the high bit saying
//! another follows (most offsets and lengths of a template take one or two bytes), texts
//! as their length and bytes. Reading checks every length, so damaged bytes read as
//! `None`, never panic.

#[derive(Default)]
pub struct Writer(pub Vec<u8>);

impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    /// Sizes and offsets of a template; a template is far below 4 GiB.
    pub fn u32(&mut self, v: usize) {
        let mut v = u32::try_from(v).unwrap_or(u32::MAX);
        while v >= 0x80 {
            self.0.push((v & 0x7f) as u8 | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    pub fn str(&mut self, s: &str) {
        self.u32(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }
}

pub struct Reader<'a>(pub &'a [u8]);

#[cfg(test)]
#[test]
fn numbers_read_back() {
    for v in [
        0,
        1,
        127,
        128,
        300,
        16_383,
        16_384,
        1 << 28,
        u32::MAX as usize,
    ] {
        let mut w = Writer::default();
        w.u32(v);
        assert_eq!(Reader(&w.0).u32(), Some(v));
    }
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Option<usize> {
        // Most numbers take one byte.
        if let Some((&b, rest)) = self.0.split_first()
            && b < 0x80
        {
            self.0 = rest;
            return Some(usize::from(b));
        }
        let mut v: u32 = 0;
        for shift in [0, 7, 14, 21, 28] {
            let b = self.u8()?;
            v |= u32::from(b & 0x7f).checked_shl(shift)?;
            if b < 0x80 {
                return usize::try_from(v).ok();
            }
        }
        None
    }

    pub fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()?;
        std::str::from_utf8(self.take(n)?).ok()
    }
}
