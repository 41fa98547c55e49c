//! Cleaning text that players send for others to read: display names and chat lines (and the
//! server's own notices, which go the same way).
//!
//! What a name or a chat line may contain after [`clean_text`]: printable Unicode text in
//! Normalization Form C, with single spaces between words and none at either end, at most
//! `max` characters. What goes:
//!
//! - control characters (general category Cc: C0, DEL, C1, so also tabs and newlines);
//! - format characters (category Cf): the bidi embeddings, overrides and isolates
//!   (U+202A–U+202E, U+2066–U+2069) that make `"\u{202e}gnp.exe"` render as `exe.png`, zero
//!   width spaces and joiners (U+200B–U+200D, U+2060, U+FEFF), the directional marks (U+200E,
//!   U+200F, U+061C), the soft hyphen, invisible operators, tags (U+E0000–U+E007F) and the rest;
//!   emoji built with a zero-width joiner fall apart into their pieces, which is the price;
//! - line and paragraph separators (U+2028, U+2029: categories Zl, Zp);
//! - letters that render as nothing and so make a name look empty or like another: the Hangul
//!   fillers (U+115F, U+1160, U+3164, U+FFA0), U+034F, U+17B4, U+17B5;
//! - combining marks past [`MAX_COMBINING`] in a row (a "Zalgo" name that would paint over
//!   the lines around it);
//!
//! and every other kind of space (no-break, ideographic, …) becomes one plain space, runs of
//! spaces one. The cut to `max` comes last, so a name of 30 zero-width spaces and "Ada" is
//! "Ada", not empty. An empty result is the caller's to replace (the room names such a player
//! `player-N`).
//!
//! The format characters come from a small table ([`is_format`]) written from the Unicode
//! Character Database (version 15.1; category Cf changes rarely, a few code points a decade)
//! rather than a crate that carries every category: it is the one category needed, and a
//! reader can check it against the standard line by line.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Most combining marks kept on one base character; more are dropped. Real text needs two or
/// three (Vietnamese, Hebrew points); NFC composes most of them away first.
pub const MAX_COMBINING: usize = 4;

/// Unicode general category Cf (format), Unicode 15.1, as inclusive ranges.
const FORMAT: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),   // soft hyphen
    (0x0600, 0x0605),   // Arabic number signs
    (0x061C, 0x061C),   // Arabic letter mark
    (0x06DD, 0x06DD),   // Arabic end of ayah
    (0x070F, 0x070F),   // Syriac abbreviation mark
    (0x0890, 0x0891),   // Arabic pound and piastre marks above
    (0x08E2, 0x08E2),   // Arabic disputed end of ayah
    (0x180E, 0x180E),   // Mongolian vowel separator
    (0x200B, 0x200F),   // zero width space, ZWNJ, ZWJ, LRM, RLM
    (0x202A, 0x202E),   // bidi embeddings and overrides
    (0x2060, 0x2064),   // word joiner, invisible operators
    (0x2066, 0x206F),   // bidi isolates, deprecated format characters
    (0xFEFF, 0xFEFF),   // zero width no-break space (BOM)
    (0xFFF9, 0xFFFB),   // interlinear annotation
    (0x110BD, 0x110BD), // Kaithi number sign
    (0x110CD, 0x110CD), // Kaithi number sign above
    (0x13430, 0x1343F), // Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // shorthand format controls
    (0x1D173, 0x1D17A), // musical symbol beams, ties, slurs, phrases
    (0xE0001, 0xE0001), // language tag
    (0xE0020, 0xE007F), // tag characters
];

/// Whether `c` is a format character (general category Cf).
pub fn is_format(c: char) -> bool {
    let c = u32::from(c);
    FORMAT
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Letters (not Cf) that render as nothing at all.
fn is_invisible_letter(c: char) -> bool {
    matches!(
        c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{3164}' | '\u{FFA0}'
    )
}

/// Whether `c` is dropped outright: a control, a format character, a line or paragraph
/// separator, an invisible letter.
fn is_dropped(c: char) -> bool {
    c.is_control() || is_format(c) || matches!(c, '\u{2028}' | '\u{2029}') || is_invisible_letter(c)
}

/// Cleans a display name or a chat line (see the module docs for what it may contain) and
/// cuts it to `max` characters.
pub fn clean_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut kept = 0;
    let mut combining = 0;
    let mut space = false;
    for c in s.chars().filter(|&c| !is_dropped(c)).nfc() {
        if c.is_whitespace() {
            space = !out.is_empty();
            combining = 0;
            continue;
        }
        if is_combining_mark(c) {
            combining += 1;
            if combining > MAX_COMBINING {
                continue;
            }
        } else {
            combining = 0;
        }
        if space {
            if kept + 2 > max {
                break;
            }
            out.push(' ');
            kept += 1;
            space = false;
        }
        if kept == max {
            break;
        }
        out.push(c);
        kept += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_unchanged() {
        for s in ["Ada", "Grace Hopper", "Zoë", "李小龙", "محمد", "😀 party"] {
            assert_eq!(clean_text(s, 24), s);
        }
    }

    #[test]
    fn bidi_overrides_and_isolates_go() {
        assert_eq!(clean_text("\u{202e}gnp.exe", 24), "gnp.exe");
        for c in ['\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}'] {
            assert_eq!(clean_text(&format!("a{c}b"), 24), "ab", "{:04x}", c as u32);
        }
        for c in ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            assert_eq!(clean_text(&format!("a{c}b"), 24), "ab", "{:04x}", c as u32);
        }
        assert_eq!(clean_text("\u{200e}a\u{200f}\u{061c}", 24), "a");
    }

    #[test]
    fn zero_width_and_invisible_characters_go() {
        assert_eq!(
            clean_text("A\u{200b}d\u{200c}a\u{200d}\u{2060}\u{feff}\u{ad}", 24),
            "Ada"
        );
        // Tags (the old language tags, and the tag runs of subdivision flags).
        assert_eq!(clean_text("a\u{e0001}\u{e0067}\u{e007f}b", 24), "ab");
        // Hangul fillers: the classic "invisible name".
        assert_eq!(clean_text("\u{3164}\u{3164}", 24), "");
        assert_eq!(clean_text("\u{115f}\u{1160}\u{ffa0}x", 24), "x");
    }

    #[test]
    fn controls_and_separators_go_and_spaces_collapse() {
        assert_eq!(clean_text("a\u{2028}b\u{2029}c", 24), "abc");
        assert_eq!(clean_text("a\nb\r\tc\u{7}\u{85}\u{9f}", 24), "abc");
        assert_eq!(clean_text("  a \u{a0}\u{3000}  b  ", 24), "a b");
        assert_eq!(clean_text("\u{2003}\u{200b} \u{202e}", 24), "");
    }

    #[test]
    fn text_is_nfc() {
        // "e" + combining acute becomes one "é"; Hangul jamo compose into a syllable.
        assert_eq!(clean_text("Zoe\u{301}", 24), "Zo\u{e9}");
        assert_eq!(clean_text("Zoe\u{301}", 24).chars().count(), 3);
        assert_eq!(clean_text("\u{1100}\u{1161}", 24), "\u{ac00}");
        // A format character between a letter and its mark no longer keeps them apart.
        assert_eq!(clean_text("e\u{200b}\u{301}", 24), "\u{e9}");
    }

    #[test]
    fn the_cut_comes_after_cleaning() {
        let padded = format!("{}Ada", "\u{200b}".repeat(30));
        assert_eq!(clean_text(&padded, 24), "Ada");
        assert_eq!(clean_text(&"x".repeat(40), 24).chars().count(), 24);
        assert_eq!(clean_text(&"é".repeat(40), 24).chars().count(), 24);
        // No trailing space where the cut falls after a word.
        assert_eq!(clean_text("abc def", 4), "abc");
        assert_eq!(clean_text("abc def", 5), "abc d");
        assert_eq!(clean_text("", 24), "");
        assert_eq!(clean_text("abc", 0), "");
    }

    #[test]
    fn long_runs_of_combining_marks_are_cut() {
        let zalgo = format!("q{}b", "\u{300}\u{301}\u{302}\u{303}".repeat(10));
        let clean = clean_text(&zalgo, 200);
        assert!(clean.starts_with('q') && clean.ends_with('b'), "{clean:?}");
        assert!(clean.chars().count() <= 2 + MAX_COMBINING, "{clean:?}");
    }

    #[test]
    fn the_format_table_is_sorted_and_holds_what_the_issue_named() {
        assert!(FORMAT.windows(2).all(|w| w[0].1 < w[1].0));
        assert!(FORMAT.iter().all(|&(lo, hi)| lo <= hi));
        for c in (0x200B..=0x200F)
            .chain(0x202A..=0x202E)
            .chain(0x2060..=0x2064)
            .chain(0x2066..=0x2069)
            .chain([0xFEFF])
        {
            assert!(is_format(char::from_u32(c).unwrap()), "{c:04x}");
        }
        for c in ['a', ' ', '\u{2028}', '\u{300}', '\u{fe0f}', '😀'] {
            assert!(!is_format(c), "{:04x}", c as u32);
        }
    }

    #[test]
    fn nothing_that_is_dropped_survives_any_input() {
        // Every code point, alone and between letters.
        for cp in 0..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let out = clean_text(&format!("a{c}b"), 24);
            assert!(
                !out.chars()
                    .any(|c| is_dropped(c) || (c.is_whitespace() && c != ' ')),
                "{cp:04x} left {out:?}"
            );
            assert!(out.chars().count() <= 24);
        }
    }
}
