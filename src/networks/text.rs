//! Text-length rules: each network counts a post's length its own way. The adapters declare
//! theirs ([`super::Network::text_rule`]); the emoji classes they share live here.

/// How one network counts a post's length, and its limit.
#[derive(Clone, Copy, Debug)]
pub struct TextRule {
    /// The most a post may count.
    pub limit: usize,
    /// What is counted, for an error message ("characters (emoji count their UTF-8 bytes)").
    pub unit: &'static str,
    count: fn(&str) -> usize,
}

impl TextRule {
    /// A rule counting with `count`.
    pub const fn new(limit: usize, unit: &'static str, count: fn(&str) -> usize) -> Self {
        Self { limit, unit, count }
    }

    /// The length of `text` as the network counts it.
    pub fn length(&self, text: &str) -> usize {
        (self.count)(text)
    }
}

/// A code point most networks count as an emoji.
pub(crate) fn is_emoji(c: char) -> bool {
    matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF)
}

/// A code point that modifies the emoji before it (variation selectors, skin tones, keycap,
/// tag characters).
pub(crate) fn is_emoji_modifier(c: char) -> bool {
    matches!(c as u32, 0xFE0E | 0xFE0F | 0x1F3FB..=0x1F3FF | 0x20E3 | 0xE0020..=0xE007F)
}

/// Half of a flag pair.
pub(crate) fn is_regional_indicator(c: char) -> bool {
    matches!(c as u32, 0x1F1E6..=0x1F1FF)
}
