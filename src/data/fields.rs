//! The check that every CSV record has as many fields as the header.
//!
//! polars pads a short record with nulls and cuts a long one, so churncal counts the fields
//! itself before reading: one quote-aware pass over the bytes. The pass works on 64-byte
//! blocks as bit masks (one bit per byte for quotes, delimiters, line feeds and carriage
//! returns): the quoted regions are the prefix XOR of the quote bits, and a record's fields
//! are a population count of the unquoted delimiter bits between two unquoted line feeds.
//! That keeps a 1.6 GB file to a fraction of a second where a byte-at-a-time state machine
//! took 3 s.
//!
//! Rules (those of the byte-at-a-time reading, kept as the tests' oracle): a `"` toggles
//! quoting; outside quotes the delimiter ends a field, a line feed ends a record and a
//! carriage return is ignored; a record with no other byte (an empty line) is not counted
//! (polars reads it as a row of missing values, which the loader then judges).

/// The first record whose field count differs from the header's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Ragged {
    /// 1-based data row (the header is row 0; empty lines are not counted).
    pub row: usize,
    pub expected: usize,
    pub found: usize,
}

/// Counts fields record by record over bytes fed in pieces of any size.
pub(super) struct FieldCounter {
    delimiter: u8,
    /// All ones while inside quotes at the end of the bytes fed so far.
    quoted: u64,
    /// Unquoted delimiters seen in the current record.
    delimiters: usize,
    /// Whether the current record has any byte besides its line end.
    nonempty: bool,
    header: Option<usize>,
    row: usize,
    /// Bytes fed so far.
    fed: u64,
    /// Offset just past the line feed that ended the header record.
    header_end: Option<u64>,
    /// Offset just past the last line feed that ended a record.
    record_end: u64,
    /// The widest instructions this processor has for the pass.
    kernel: Kernel,
}

/// How a block's masks are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// 16 bytes at a time (SSE2, on every x86_64 processor), or a byte at a time elsewhere.
    Base,
    /// 32 bytes at a time, with the population-count and bit-manipulation instructions.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// The 64 bytes at once into bit masks, and the quote parity by carry-less multiply.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Kernel {
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            let common =
                std::is_x86_feature_detected!("popcnt") && std::is_x86_feature_detected!("bmi1");
            if common
                && std::is_x86_feature_detected!("avx512bw")
                && std::is_x86_feature_detected!("pclmulqdq")
            {
                return Kernel::Avx512;
            }
            if common && std::is_x86_feature_detected!("avx2") {
                return Kernel::Avx2;
            }
        }
        Kernel::Base
    }
}

/// Bytes per block: one bit of a `u64` each.
const BLOCK: usize = 64;

impl FieldCounter {
    pub fn new(delimiter: u8) -> Self {
        FieldCounter {
            delimiter,
            quoted: 0,
            delimiters: 0,
            nonempty: false,
            header: None,
            row: 0,
            fed: 0,
            header_end: None,
            record_end: 0,
            kernel: Kernel::detect(),
        }
    }

    /// The offset (in bytes fed) just past the header record's line feed, once seen.
    pub fn header_end(&self) -> Option<u64> {
        self.header_end
    }

    /// The offset (in bytes fed) just past the line feed of the last record that is not
    /// an empty line: the bytes before it are whole records, where a reader may cut.
    pub fn record_end(&self) -> u64 {
        self.record_end
    }

    /// The data records (not the header, not empty lines) ended so far.
    pub fn records(&self) -> usize {
        self.row
    }

    /// Feeds the next bytes; returns the first ragged record among them.
    pub fn feed(&mut self, bytes: &[u8]) -> Option<Ragged> {
        match self.kernel {
            Kernel::Base => self.feed_with(bytes, masks, prefix_xor),
            // SAFETY: `detect` chose these kernels only where the processor has the
            // features they are compiled for.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { self.feed_avx2(bytes) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => unsafe { self.feed_avx512(bytes) },
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    fn feed_avx2(&mut self, bytes: &[u8]) -> Option<Ragged> {
        self.feed_with(bytes, |b, d| wide::masks_avx2(b, d), prefix_xor)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512bw,popcnt,bmi1,pclmulqdq")]
    fn feed_avx512(&mut self, bytes: &[u8]) -> Option<Ragged> {
        self.feed_with(
            bytes,
            |b, d| wide::masks_avx512(b, d),
            |x| wide::prefix_xor_clmul(x),
        )
    }

    /// [`FieldCounter::feed`] with a kernel's two steps, compiled into each caller (and so
    /// for the caller's instructions).
    #[inline(always)]
    fn feed_with(
        &mut self,
        bytes: &[u8],
        masks: impl Fn(&[u8; BLOCK], u8) -> [u64; 4],
        prefix_xor: impl Fn(u64) -> u64 + Copy,
    ) -> Option<Ragged> {
        let mut blocks = bytes.chunks_exact(BLOCK);
        for block in &mut blocks {
            let block: &[u8; BLOCK] = block.try_into().expect("chunks_exact gives 64 bytes");
            if let Some(bad) = self.block(masks(block, self.delimiter), prefix_xor, u64::MAX) {
                return Some(bad);
            }
            self.fed += BLOCK as u64;
        }
        let rest = blocks.remainder();
        if rest.is_empty() {
            return None;
        }
        let mut padded = [0u8; BLOCK];
        padded[..rest.len()].copy_from_slice(rest);
        let bad = self.block(
            masks(&padded, self.delimiter),
            prefix_xor,
            (1u64 << rest.len()) - 1,
        );
        self.fed += rest.len() as u64;
        bad
    }

    /// Ends the input: checks a last record without a line end.
    pub fn finish(&mut self) -> Option<Ragged> {
        self.end_record()
    }

    /// One block, given its masks; `valid` has a bit for each byte that is data (the rest
    /// is padding).
    #[inline(always)]
    fn block(
        &mut self,
        [quote, delimiter, line_feed, carriage_return]: [u64; 4],
        prefix_xor: impl Fn(u64) -> u64,
        valid: u64,
    ) -> Option<Ragged> {
        // A byte is quoted when an odd number of quotes precede it (its own bit does not
        // matter: a quote byte is none of the other kinds).
        let inside = prefix_xor(quote) ^ self.quoted;
        // Padding holds no quotes, so the top bit is the state after the last data byte.
        self.quoted = ((inside as i64) >> 63) as u64;
        let outside = !inside & valid;
        // Each byte is of the first kind it matches, in the order quote, delimiter, line end.
        let delimiter = delimiter & !quote & outside;
        let line_feed = line_feed & !quote & !delimiter & outside;
        let carriage_return = carriage_return & !quote & !delimiter & outside;
        let content = valid & !(line_feed | carriage_return);

        // Bits of the current record within this block.
        let mut record = u64::MAX;
        let mut ends = line_feed;
        while ends != 0 {
            let at = ends.trailing_zeros();
            let here = record & ((1u64 << at) - 1);
            self.delimiters += (delimiter & here).count_ones() as usize;
            self.nonempty |= content & here != 0;
            let empty_line = !self.nonempty && self.delimiters == 0;
            if let Some(bad) = self.end_record() {
                return Some(bad);
            }
            // An empty line is not a record end: polars reads it as a row of nulls, so a
            // reader cutting the text leaves it at the start of what follows, where polars
            // reads it the same way.
            if !empty_line {
                self.record_end = self.fed + u64::from(at) + 1;
                self.header_end.get_or_insert(self.record_end);
            }
            record = u64::MAX.checked_shl(at + 1).unwrap_or(0);
            ends &= ends - 1;
        }
        self.delimiters += (delimiter & record).count_ones() as usize;
        self.nonempty |= content & record != 0;
        None
    }

    fn end_record(&mut self) -> Option<Ragged> {
        let fields = (self.nonempty || self.delimiters > 0).then_some(self.delimiters + 1);
        self.delimiters = 0;
        self.nonempty = false;
        let found = fields?;
        match self.header {
            None => self.header = Some(found),
            Some(expected) => {
                self.row += 1;
                if found != expected {
                    return Some(Ragged {
                        row: self.row,
                        expected,
                        found,
                    });
                }
            }
        }
        None
    }
}

/// Bit `i` set where bit `i` or an odd number of the bits below it are set: the running
/// parity of the quote bits.
fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

/// The kernels for wider vector instructions, compiled for them (each is called only
/// where [`Kernel::detect`] found the features).
#[cfg(target_arch = "x86_64")]
mod wide {
    use std::arch::x86_64::{
        __m256i, __m512i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_set1_epi8, _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_set1_epi8,
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x,
    };

    use super::BLOCK;

    /// One bit per byte equal to `"`, the delimiter, `\n` and `\r`, 32 bytes at a time.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(super) fn masks_avx2(block: &[u8; BLOCK], delimiter: u8) -> [u64; 4] {
        // SAFETY: each load reads 32 bytes of the 64-byte block (unaligned loads allowed).
        let (lo, hi) = unsafe {
            let p = block.as_ptr().cast::<__m256i>();
            (_mm256_loadu_si256(p), _mm256_loadu_si256(p.add(1)))
        };
        [b'"', delimiter, b'\n', b'\r'].map(|b| {
            let needle = _mm256_set1_epi8(b as i8);
            let bits = |v| u64::from(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, needle)) as u32);
            bits(lo) | bits(hi) << 32
        })
    }

    /// One bit per byte equal to `"`, the delimiter, `\n` and `\r`: one compare each.
    #[inline]
    #[target_feature(enable = "avx512bw")]
    pub(super) fn masks_avx512(block: &[u8; BLOCK], delimiter: u8) -> [u64; 4] {
        // SAFETY: the load reads the 64 bytes of the block (unaligned loads allowed).
        let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast::<__m512i>()) };
        [b'"', delimiter, b'\n', b'\r']
            .map(|b| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8)))
    }

    /// [`super::prefix_xor`] as one carry-less multiplication by all ones.
    #[inline]
    #[target_feature(enable = "pclmulqdq")]
    pub(super) fn prefix_xor_clmul(bits: u64) -> u64 {
        let product =
            _mm_clmulepi64_si128(_mm_set_epi64x(0, bits as i64), _mm_set_epi64x(0, -1), 0);
        _mm_cvtsi128_si64(product) as u64
    }
}

/// One bit per byte equal to `"`, the delimiter, `\n` and `\r`.
#[cfg(target_arch = "x86_64")]
fn masks(block: &[u8; BLOCK], delimiter: u8) -> [u64; 4] {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut out = [0u64; 4];
    // SAFETY: SSE2 is part of every x86_64 processor, and each load reads the 16 bytes of
    // one `lane` (unaligned loads are allowed).
    unsafe {
        let needles = [b'"', delimiter, b'\n', b'\r'].map(|b| _mm_set1_epi8(b as i8));
        for (k, lane) in block.chunks_exact(16).enumerate() {
            let v = _mm_loadu_si128(lane.as_ptr().cast::<__m128i>());
            for (mask, needle) in out.iter_mut().zip(&needles) {
                let bits = _mm_movemask_epi8(_mm_cmpeq_epi8(v, *needle)) as u32 & 0xFFFF;
                *mask |= u64::from(bits) << (16 * k);
            }
        }
    }
    out
}

/// One bit per byte equal to `"`, the delimiter, `\n` and `\r`.
#[cfg(not(target_arch = "x86_64"))]
fn masks(block: &[u8; BLOCK], delimiter: u8) -> [u64; 4] {
    portable_masks(block, delimiter)
}

#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn portable_masks(block: &[u8; BLOCK], delimiter: u8) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, &b) in block.iter().enumerate() {
        for (mask, needle) in out.iter_mut().zip([b'"', delimiter, b'\n', b'\r']) {
            *mask |= u64::from(b == needle) << i;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The byte-at-a-time state machine this module replaced: the oracle.
    fn oracle(bytes: &[u8], delimiter: u8) -> Option<Ragged> {
        oracle_walk(bytes, delimiter).0
    }

    /// The oracle's reading: the first ragged record, and where the header and the last
    /// record that is not an empty line end (just past their unquoted line feeds) up to it.
    fn oracle_walk(bytes: &[u8], delimiter: u8) -> (Option<Ragged>, Option<u64>, u64) {
        let (mut quoted, mut fields, mut len) = (false, 0usize, 0usize);
        let (mut header, mut row) = (None, 0usize);
        let (mut header_end, mut record_end) = (None, 0u64);
        let mut end = |fields: &mut usize, len: &mut usize| {
            let record = (*len > 0 || *fields > 0).then_some(*fields + 1);
            *fields = 0;
            *len = 0;
            let found = record?;
            match header {
                None => header = Some(found),
                Some(expected) => {
                    row += 1;
                    if found != expected {
                        return Some(Ragged {
                            row,
                            expected,
                            found,
                        });
                    }
                }
            }
            None
        };
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'"' {
                quoted = !quoted;
            } else if !quoted {
                if b == delimiter {
                    fields += 1;
                } else if b == b'\n' {
                    if len > 0 || fields > 0 {
                        header_end.get_or_insert(i as u64 + 1);
                        record_end = i as u64 + 1;
                    }
                    if let Some(bad) = end(&mut fields, &mut len) {
                        return (Some(bad), header_end, record_end);
                    }
                    continue;
                } else if b == b'\r' {
                    continue;
                }
            }
            len += 1;
        }
        (end(&mut fields, &mut len), header_end, record_end)
    }

    /// The kernels this processor can run: the base one and the widest it has, and AVX2
    /// too when that is not the widest.
    fn kernels() -> Vec<Kernel> {
        let mut k = vec![Kernel::Base, Kernel::detect()];
        #[cfg(target_arch = "x86_64")]
        if k[1] == Kernel::Avx512 && std::is_x86_feature_detected!("avx2") {
            k.push(Kernel::Avx2);
        }
        k.dedup();
        k
    }

    /// A counter running `kernel`.
    fn counter(delimiter: u8, kernel: Kernel) -> FieldCounter {
        FieldCounter {
            kernel,
            ..FieldCounter::new(delimiter)
        }
    }

    /// The first ragged record of the text fed in `pieces`, the same by every kernel.
    fn counted(pieces: &[&[u8]], delimiter: u8) -> Option<Ragged> {
        let results: Vec<Option<Ragged>> = kernels()
            .into_iter()
            .map(|kernel| {
                let mut c = counter(delimiter, kernel);
                for p in pieces {
                    if let Some(bad) = c.feed(p) {
                        return Some(bad);
                    }
                }
                c.finish()
            })
            .collect();
        assert!(
            results.windows(2).all(|w| w[0] == w[1]),
            "kernels {:?} disagree: {results:?}",
            kernels()
        );
        results[0]
    }

    #[test]
    fn this_processor_runs_its_widest_kernel() {
        // (What the machines churncal is measured on have; elsewhere the test says which
        // kernel ran.)
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512bw") {
            assert_eq!(FieldCounter::new(b',').kernel, Kernel::Avx512);
        }
        eprintln!("field-count kernels tested: {:?}", kernels());
    }

    #[test]
    fn rectangular_files_pass_and_ragged_rows_are_named() {
        assert_eq!(counted(&[b"a,b\n1,2\n3,4\n"], b','), None);
        assert_eq!(counted(&[b"a,b\r\n1,2\r\n\r\n3,4"], b','), None);
        assert_eq!(
            counted(&[b"a,b\n\"1,x\",2\n\"multi\nline\",4\n"], b','),
            None
        );
        let short = Ragged {
            row: 2,
            expected: 2,
            found: 1,
        };
        assert_eq!(counted(&[b"a,b\n1,2\n3\n4,5\n"], b','), Some(short));
        assert_eq!(counted(&[b"a;b\n1;2;3"], b';').map(|r| r.found), Some(3));
    }

    #[test]
    fn block_edges_do_not_matter() {
        // Records and quoted regions that straddle 64-byte blocks and fed pieces.
        let mut text = b"id,name,value\n".to_vec();
        for i in 0..200 {
            text.extend_from_slice(format!("{i},\"x, {i}\ny\",{}\n", i * 7).as_bytes());
        }
        text.extend_from_slice(b"200,short\n");
        let expected = oracle(&text, b',');
        assert_eq!(expected.map(|r| (r.row, r.found)), Some((201, 2)));
        for piece in [1, 7, 63, 64, 65, 1000] {
            let pieces: Vec<&[u8]> = text.chunks(piece).collect();
            assert_eq!(counted(&pieces, b','), expected, "pieces of {piece}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_vector_masks_give_the_portable_bits() {
        let block: [u8; BLOCK] = std::array::from_fn(|i| b"\"a,\n\r;\x00\xff"[i * 7 % 8]);
        for delimiter in [b',', b';', b'\t', 0, 0xff, b'"'] {
            let portable = portable_masks(&block, delimiter);
            assert_eq!(masks(&block, delimiter), portable);
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the processor has AVX2.
                assert_eq!(unsafe { wide::masks_avx2(&block, delimiter) }, portable);
            }
            if std::is_x86_feature_detected!("avx512bw") {
                // SAFETY: the processor has AVX-512BW.
                assert_eq!(unsafe { wide::masks_avx512(&block, delimiter) }, portable);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn carry_less_multiplication_gives_the_quote_parity() {
        if !std::is_x86_feature_detected!("pclmulqdq") {
            return;
        }
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for bits in [0, 1, u64::MAX, 1 << 63, 0x8000_0000_0000_0001] {
            // SAFETY: the processor has PCLMULQDQ.
            assert_eq!(unsafe { wide::prefix_xor_clmul(bits) }, prefix_xor(bits));
        }
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // SAFETY: as above.
            assert_eq!(
                unsafe { wide::prefix_xor_clmul(x) },
                prefix_xor(x),
                "{x:#x}"
            );
        }
    }

    proptest! {
        #[test]
        fn counts_match_the_byte_at_a_time_oracle(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"ab,;\"\n\r\t".to_vec()), 0..400),
            piece in 1usize..130,
            delimiter in proptest::sample::select(b",;\t\"\n".to_vec()),
        ) {
            let pieces: Vec<&[u8]> = bytes.chunks(piece).collect();
            prop_assert_eq!(counted(&pieces, delimiter), oracle(&bytes, delimiter));
        }

        #[test]
        fn record_ends_match_the_oracle(
            bytes in proptest::collection::vec(
                proptest::sample::select(b"ab\"\n\r".to_vec()), 0..400),
            piece in 1usize..130,
        ) {
            // Without delimiters every record has one field, so none is ragged: the
            // header and the last record end where the byte-at-a-time reading says.
            let (_, header_end, record_end) = oracle_walk(&bytes, b',');
            let mut records = Vec::new();
            for kernel in kernels() {
                let mut c = counter(b',', kernel);
                for p in bytes.chunks(piece) {
                    prop_assert_eq!(c.feed(p), None);
                }
                prop_assert_eq!(c.header_end(), header_end, "{:?}", kernel);
                prop_assert_eq!(c.record_end(), record_end, "{:?}", kernel);
                records.push(c.records());
            }
            prop_assert!(records.windows(2).all(|w| w[0] == w[1]), "{:?}", records);
        }
    }
}
