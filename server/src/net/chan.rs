//! The bounded queues of a connection (its room's outbox, its inbox, its reader's messages to
//! its writer), with tokio's `mpsc` interface over `flume`.
//!
//! tokio's bounded channel allocates a block of 32 slots when it is made (a KiB for `Bytes`),
//! whatever its capacity: three of them were a fifth of what an idle connection cost. A
//! `flume` queue allocates nothing until something waits in it, and then only what waits.

use tokio::sync::mpsc::error::{TryRecvError, TrySendError};

/// A queue of at most `capacity` items (at least 1).
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let capacity = capacity.max(1);
    let (tx, rx) = flume::bounded(capacity);
    (Sender(tx, capacity), Receiver(rx))
}

/// The sending end (cloned for each sender), with the queue's capacity (flume's own answer
/// takes its lock; the room asks every client's outbox every tick).
#[derive(Debug)]
pub struct Sender<T>(flume::Sender<T>, usize);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone(), self.1)
    }
}

/// The receiving end.
#[derive(Debug)]
pub struct Receiver<T>(flume::Receiver<T>);

impl<T> Sender<T> {
    /// Queues `item` if there is room; never waits.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        self.0.try_send(item).map_err(|e| match e {
            flume::TrySendError::Full(t) => TrySendError::Full(t),
            flume::TrySendError::Disconnected(t) => TrySendError::Closed(t),
        })
    }

    /// Queues `item`, waiting for room; `Err` when the receiver is gone.
    pub async fn send(&self, item: T) -> Result<(), T> {
        self.0.send_async(item).await.map_err(|e| e.into_inner())
    }

    /// Free places.
    pub fn capacity(&self) -> usize {
        self.1.saturating_sub(self.0.len())
    }
}

impl<T> Receiver<T> {
    /// The next item, waiting for one; `None` once every sender is gone and the queue is empty.
    /// Cancel-safe: an item is taken only by the poll that returns it.
    pub async fn recv(&mut self) -> Option<T> {
        self.0.recv_async().await.ok()
    }

    /// The next item if one waits.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.0.try_recv().map_err(|e| match e {
            flume::TryRecvError::Empty => TryRecvError::Empty,
            flume::TryRecvError::Disconnected => TryRecvError::Disconnected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn bounded_in_order_and_closed_when_either_end_goes() {
        let (tx, mut rx) = channel::<u32>(2);
        assert_eq!(tx.capacity(), 2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert_eq!(tx.capacity(), 0);
        assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(tx.capacity(), 1);
        // A sender waiting for room goes on once there is some.
        let waiting = {
            let tx = tx.clone();
            tokio::spawn(async move { tx.send(3).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.recv().await, Some(3));
        waiting.await.unwrap().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(tx);
        assert_eq!(rx.recv().await, None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

        let (tx, rx) = channel::<u32>(1);
        drop(rx);
        assert!(matches!(tx.try_send(1), Err(TrySendError::Closed(1))));
        assert_eq!(tx.send(2).await, Err(2));
    }

    #[tokio::test]
    async fn a_cancelled_receive_loses_nothing() {
        let (tx, mut rx) = channel::<u32>(4);
        for _ in 0..3 {
            let r = tokio::time::timeout(Duration::from_millis(2), rx.recv()).await;
            assert!(r.is_err());
        }
        tx.try_send(7).unwrap();
        assert_eq!(rx.recv().await, Some(7));
    }
}
