//! Numbers as exports write them: a decimal comma (`45,5`, Excel's default in most of
//! Europe), and, when asked for, percent signs, currency symbols and thousands separators
//! (`45%`, `$1,234.50`, `1.234,5 €`, `(1,200)`).
//!
//! The contract's plain form (`45.5`, `-1e3`) is read by [`super::parse::number`]; a
//! [`NumberStyle`] says what else a file's numbers may hold. Nothing is guessed value by
//! value: the decimal mark is the file's (given, or detected once from its first rows by
//! [`detect_decimal_comma`]), and the lenient form is read only when the user asks for it,
//! with thousands groups checked (a `1,5` is never read as fifteen).

use super::parse;

/// How a file writes its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NumberStyle {
    /// `,` is the decimal mark (`45,5`); a `.` is then a thousands separator, read only when
    /// `lenient` is on.
    pub decimal_comma: bool,
    /// Percent signs, currency symbols and codes, thousands separators and accounting
    /// parentheses are stripped (`$1,234.50` → 1234.5, `45%` → 45, `(300)` → −300).
    pub lenient: bool,
}

/// What a number field held.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Read {
    /// A missing value (empty or blank).
    Missing,
    /// A number written plainly (with the file's decimal mark).
    Plain(f64),
    /// A number that was written with a percent sign, a currency, thousands separators or
    /// parentheses, stripped by the lenient reading.
    Stripped(f64),
}

/// Why a field is not a number in the file's style.
pub const NOT_A_NUMBER: &str = "a number";
/// The same, when the lenient reading would have read it.
pub const NEEDS_LENIENT: &str =
    "a plain number (it has a percent sign, a currency or thousands separators)";
/// A number in a decimal-comma file with a `.` in it.
pub const NEEDS_COMMA: &str = "a number with a decimal comma, like 45,5, as the file's others";
/// `1,234`: a decimal comma or a thousands separator, in a file read with a decimal point.
pub const NEEDS_EITHER: &str =
    "a number with a decimal point (its comma is a decimal comma or a thousands separator)";
/// A number with a decimal comma in a file read with a decimal point.
pub const NEEDS_DECIMAL_COMMA: &str = "a number with a decimal point (it has a decimal comma)";

/// Read `field` as a number in `style`.
pub fn read(field: &str, style: NumberStyle) -> Result<Read, &'static str> {
    let t = trim(field);
    if t.is_empty() {
        return Ok(Read::Missing);
    }
    if !style.decimal_comma {
        if let Ok(Some(v)) = parse::number(t) {
            return Ok(Read::Plain(v));
        }
    } else if let Some(v) = comma_plain(t) {
        return Ok(Read::Plain(v));
    }
    match (lenient(t, style.decimal_comma), style.lenient) {
        (Some(v), true) => Ok(Read::Stripped(v)),
        (Some(_), false) if !style.decimal_comma && comma_plain(t).is_some() => Err(NEEDS_EITHER),
        (Some(_), false) => Err(NEEDS_LENIENT),
        (None, _) => match parse::number(t) {
            // (NaN and infinities say so.)
            Err(e) if e != NOT_A_NUMBER => Err(e),
            _ if style.decimal_comma => Err(NEEDS_COMMA),
            _ if comma_plain(t).is_some() => Err(NEEDS_DECIMAL_COMMA),
            _ => Err(NOT_A_NUMBER),
        },
    }
}

/// Whitespace trimmed, the no-break spaces of French exports included.
fn trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{a0}' || c == '\u{202f}')
}

/// A plain number with a decimal comma: sign, digits, at most one `,` and digits, an
/// optional exponent; no `.`.
fn comma_plain(t: &str) -> Option<f64> {
    if t.contains('.') {
        return None;
    }
    let mut buf = [0u8; 64];
    let b = t.as_bytes();
    if b.len() > buf.len() || b.iter().filter(|&&c| c == b',').count() > 1 {
        return None;
    }
    for (o, &c) in buf.iter_mut().zip(b) {
        *o = if c == b',' { b'.' } else { c };
    }
    let s = std::str::from_utf8(&buf[..b.len()]).ok()?;
    match parse::number(s) {
        Ok(Some(v)) => Some(v),
        _ => None,
    }
}

/// The lenient reading: an optional sign or accounting parentheses, a currency symbol or
/// three-letter code before or after, a percent sign after, and digits in groups of three
/// separated by one kind of thousands separator, then the decimal mark and digits.
fn lenient(t: &str, decimal_comma: bool) -> Option<f64> {
    let (mut t, mut negative) = (t, false);
    if let Some(inner) = t.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        t = trim(inner);
        negative = true;
    }
    let mut stripped = negative;
    // Sign, currency and percent in any order around the digits, each at most once.
    for _ in 0..3 {
        let before = t;
        if let Some(rest) = t.strip_prefix(['-', '−']) {
            if negative {
                return None;
            }
            negative = true;
            t = trim(rest);
        } else if let Some(rest) = t.strip_prefix('+') {
            t = trim(rest);
        }
        t = trim(strip_currency(t));
        if let Some(rest) = t.strip_suffix('%') {
            t = trim(rest);
        }
        if let Some(rest) = t.strip_suffix(['-', '−']) {
            if negative {
                return None;
            }
            negative = true;
            t = trim(rest);
        }
        stripped |= before.len() != t.len();
        if before == t {
            break;
        }
    }
    let (decimal, groups) = if decimal_comma {
        (',', ['.', ' ', '\u{a0}', '\u{202f}', '\''])
    } else {
        ('.', [',', ' ', '\u{a0}', '\u{202f}', '\''])
    };
    let (int, frac) = match t.split_once(decimal) {
        Some((i, f)) => (i, Some(f)),
        None => (t, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|c| c.is_ascii_digit())) {
        return None;
    }
    // The integer part: digits, or groups of three after a first group of one to three.
    let mut sep = None;
    let mut digits = String::with_capacity(int.len() + 24);
    let parts: Vec<&str> = int.split(|c| groups.contains(&c)).collect();
    if parts.len() > 1 {
        let first_sep = int.chars().find(|c| groups.contains(c));
        sep = first_sep;
        if int
            .chars()
            .filter(|c| groups.contains(c))
            .any(|c| Some(c) != sep)
            || !(1..=3).contains(&parts[0].len())
            || parts[0].starts_with('0')
            || parts[1..].iter().any(|p| p.len() != 3)
        {
            return None;
        }
    }
    for p in &parts {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        digits.push_str(p);
    }
    if let Some(f) = frac {
        digits.push('.');
        digits.push_str(f);
    }
    if !stripped && sep.is_none() {
        // Nothing to strip: not a lenient form (a plain number is read before).
        return None;
    }
    let v: f64 = digits.parse().ok()?;
    Some(if negative { -v } else { v })
}

/// Currency symbols and codes exports put before or after amounts.
const SYMBOLS: [&str; 12] = [
    "US$", "R$", "A$", "C$", "$", "€", "£", "¥", "₹", "₩", "₽", "CHF",
];

/// `t` without one currency symbol or three-letter upper-case code at its start or end.
fn strip_currency(t: &str) -> &str {
    for s in SYMBOLS {
        if let Some(rest) = t.strip_prefix(s) {
            return rest;
        }
        if let Some(rest) = t.strip_suffix(s) {
            return rest;
        }
    }
    let code = |s: &str| s.len() == 3 && s.bytes().all(|c| c.is_ascii_uppercase());
    if t.len() > 4 {
        if let Some((head, rest)) = t.split_at_checked(3) {
            if code(head) {
                return rest;
            }
        }
        if let Some((rest, tail)) = t.split_at_checked(t.len() - 3) {
            if code(tail) {
                return rest;
            }
        }
    }
    t
}

/// Whether a file's numbers use a decimal comma, from a sample of its numeric fields: yes
/// when some value reads only that way (`45,5`) and none is a plain decimal with a point.
pub fn detect_decimal_comma<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    let (mut comma, mut point) = (false, false);
    for v in values {
        let t = trim(v);
        if t.is_empty() {
            continue;
        }
        match parse::number(t) {
            Ok(Some(_)) if t.contains('.') => point = true,
            Ok(_) => {}
            Err(_) => comma |= comma_plain(t).is_some(),
        }
    }
    comma && !point
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: NumberStyle = NumberStyle {
        decimal_comma: false,
        lenient: false,
    };
    const LENIENT: NumberStyle = NumberStyle {
        decimal_comma: false,
        lenient: true,
    };
    const COMMA: NumberStyle = NumberStyle {
        decimal_comma: true,
        lenient: false,
    };
    const COMMA_LENIENT: NumberStyle = NumberStyle {
        decimal_comma: true,
        lenient: true,
    };

    #[test]
    fn plain_numbers_read_as_the_contract_says() {
        assert_eq!(read(" 3.5 ", PLAIN), Ok(Read::Plain(3.5)));
        assert_eq!(read("", PLAIN), Ok(Read::Missing));
        assert_eq!(read("\u{a0}", PLAIN), Ok(Read::Missing));
        assert_eq!(read("abc", PLAIN), Err(NOT_A_NUMBER));
        assert!(read("NaN", PLAIN).unwrap_err().contains("finite"));
        // A comma is never a decimal mark unless the file's style says so.
        assert_eq!(read("45,5", PLAIN), Err(NEEDS_DECIMAL_COMMA));
        assert_eq!(read("45,5", LENIENT), Err(NEEDS_DECIMAL_COMMA));
    }

    #[test]
    fn decimal_comma() {
        assert_eq!(read("45,5", COMMA), Ok(Read::Plain(45.5)));
        assert_eq!(read("-0,25", COMMA), Ok(Read::Plain(-0.25)));
        assert_eq!(read("12", COMMA), Ok(Read::Plain(12.0)));
        assert_eq!(read("1,5e3", COMMA), Ok(Read::Plain(1500.0)));
        assert_eq!(read("45.5", COMMA), Err(NEEDS_COMMA));
        assert_eq!(read("1.234,5", COMMA), Err(NEEDS_LENIENT));
        assert_eq!(read("1.234,5", COMMA_LENIENT), Ok(Read::Stripped(1234.5)));
        assert_eq!(read("1 234,5 €", COMMA_LENIENT), Ok(Read::Stripped(1234.5)));
        assert_eq!(
            read("1\u{202f}234,5\u{a0}%", COMMA_LENIENT),
            Ok(Read::Stripped(1234.5))
        );
        assert_eq!(read("45,5", COMMA_LENIENT), Ok(Read::Plain(45.5)));
    }

    #[test]
    fn lenient_forms_need_the_flag_and_are_read_with_it() {
        let cases = [
            ("45%", 45.0),
            ("45.5 %", 45.5),
            ("$1,234.50", 1234.5),
            ("-$1,234.50", -1234.5),
            ("$-1,234.50", -1234.5),
            ("(1,200)", -1200.0),
            ("1,234,567", 1234567.0),
            ("USD 2,500", 2500.0),
            ("2,500 EUR", 2500.0),
            ("€12", 12.0),
            ("CHF 1'250.00", 1250.0),
            ("12-", -12.0),
        ];
        for (text, want) in cases {
            assert_eq!(read(text, PLAIN), Err(NEEDS_LENIENT), "{text}");
            assert_eq!(read(text, LENIENT), Ok(Read::Stripped(want)), "{text}");
        }
        // A comma and three digits reads either way: the error says so, the flag decides.
        assert_eq!(read("1,234", PLAIN), Err(NEEDS_EITHER));
        assert_eq!(read("1,234", LENIENT), Ok(Read::Stripped(1234.0)));
        assert_eq!(read("0,182", PLAIN), Err(NEEDS_DECIMAL_COMMA));
        assert_eq!(read("0,182", LENIENT), Err(NEEDS_DECIMAL_COMMA));
    }

    #[test]
    fn lenient_reading_refuses_what_it_cannot_read_for_sure() {
        for text in [
            "1,23",    // a decimal comma in a point file, or a mistyped group
            "1,2345",  // a group of four
            "12,34,5", // groups of two (lakh) are not read
            "1,234.5.6",
            "$",
            "%",
            "--5",
            "(-5)",
            "five dollars",
            "1 234,5", // a comma in a point file
            "$1,234.",
            "1,234 5",
        ] {
            assert!(read(text, LENIENT).is_err(), "{text}");
        }
    }

    #[test]
    fn the_decimal_comma_is_detected_only_when_the_sample_says_so() {
        assert!(detect_decimal_comma(["45,5", "12", "", "3,25"]));
        assert!(!detect_decimal_comma(["45.5", "12"]));
        assert!(!detect_decimal_comma(["12", "7"]));
        // Mixed: a point decimal is there, so the comma is not the decimal mark.
        assert!(!detect_decimal_comma(["45,5", "3.25"]));
        assert!(!detect_decimal_comma(["abc", "x,y"]));
    }
}
