//! A FIFO that releases each item a fixed time after it was pushed: the client's optional
//! simulated latency (`--lag-ms`), applied to messages in both directions so a developer can
//! watch prediction and interpolation cope with a slow link. Pure; time is passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Items held back by a constant delay, released in the order they came.
#[derive(Debug)]
pub struct DelayLine<T> {
    delay: Duration,
    items: VecDeque<(Instant, T)>,
}

impl<T> DelayLine<T> {
    /// A line that holds each item for `delay`.
    pub fn new(delay: Duration) -> DelayLine<T> {
        DelayLine {
            delay,
            items: VecDeque::new(),
        }
    }

    /// Adds an item that arrived at `now`.
    pub fn push(&mut self, now: Instant, item: T) {
        self.items.push_back((now + self.delay, item));
    }

    /// When the oldest item is due, if any is waiting.
    pub fn next_due(&self) -> Option<Instant> {
        self.items.front().map(|(due, _)| *due)
    }

    /// The oldest item, if it is due at `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<T> {
        match self.items.front() {
            Some((due, _)) if *due <= now => self.items.pop_front().map(|(_, item)| item),
            _ => None,
        }
    }

    /// Everything still held, oldest first (used when the connection ends).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.items.drain(..).map(|(_, item)| item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_in_order_after_the_delay() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut line = DelayLine::new(ms(100));
        line.push(t0, 'a');
        line.push(t0 + ms(10), 'b');
        assert_eq!(line.next_due(), Some(t0 + ms(100)));
        assert_eq!(line.pop_due(t0 + ms(99)), None);
        assert_eq!(line.pop_due(t0 + ms(100)), Some('a'));
        assert_eq!(line.pop_due(t0 + ms(105)), None);
        assert_eq!(line.pop_due(t0 + ms(110)), Some('b'));
        assert_eq!(line.next_due(), None);
        line.push(t0, 'c');
        assert_eq!(line.drain().collect::<Vec<_>>(), ['c']);
    }
}
