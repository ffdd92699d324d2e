//! One million messages through a ZeroMQ PUSH/PULL pair in one mio loop, across the
//! high-water mark again and again. Gets the `ZMQ_FD` edge-trigger discipline wrong and
//! this stalls: the loop would sleep while messages sit in libzmq's queues.

use brine::io::zsock::{ZContext, ZKind, ZSocket};
use mio::{Events, Poll, Token};
use std::time::{Duration, Instant};

const PUSH: Token = Token(1);
const PULL: Token = Token(2);

#[test]
fn a_million_messages_never_stall() {
    let total: u64 = 1_000_000;
    let ctx = ZContext::new();
    let mut push = ZSocket::new(&ctx, ZKind::Push).unwrap();
    let mut pull = ZSocket::new(&ctx, ZKind::Pull).unwrap();
    // A small high-water mark so the sender hits it constantly.
    push.set_hwm(100).unwrap();
    pull.set_hwm(100).unwrap();
    push.bind("tcp://127.0.0.1:*").unwrap();
    let endpoint = push.last_endpoint().unwrap();
    pull.connect(&endpoint).unwrap();
    let mut poll = Poll::new().unwrap();
    push.register(poll.registry(), PUSH).unwrap();
    pull.register(poll.registry(), PULL).unwrap();
    let mut events = Events::with_capacity(16);

    let (mut sent, mut received, mut hwm_hits) = (0u64, 0u64, 0u64);
    let mut last_progress = Instant::now();
    while received < total {
        // Sleep only when neither socket has work we can do now: the cached events are
        // refreshed after every operation, so this check is what keeps the loop honest.
        let work = pull.readable() || (sent < total && push.writable());
        let timeout = if work {
            Duration::ZERO
        } else {
            Duration::from_millis(500)
        };
        poll.poll(&mut events, Some(timeout)).unwrap();
        for ev in events.iter() {
            match ev.token() {
                PUSH => push.refresh(),
                PULL => pull.refresh(),
                _ => {}
            }
        }
        let before = (sent, received);
        // Send until the high-water mark pushes back, so every turn crosses it.
        let mut budget = 1_000_000;
        while sent < total && budget > 0 {
            let msg = sent.to_be_bytes();
            if push.send(&[&msg]).unwrap() {
                sent += 1;
                budget -= 1;
            } else {
                hwm_hits += 1;
                break;
            }
        }
        // Sending may have consumed the receiver's edge: look again.
        pull.refresh();
        let mut budget = 1000;
        while budget > 0 {
            match pull.recv().unwrap() {
                Some(parts) => {
                    let n = u64::from_be_bytes(parts[0][..8].try_into().unwrap());
                    assert_eq!(n, received, "in order, none lost");
                    received += 1;
                    budget -= 1;
                }
                None => break,
            }
        }
        push.refresh();
        if (sent, received) != before {
            last_progress = Instant::now();
        }
        assert!(
            last_progress.elapsed() < Duration::from_secs(10),
            "stalled at sent {sent} received {received}"
        );
    }
    assert_eq!(received, total);
    assert!(
        hwm_hits > 100,
        "the test crossed the high-water mark ({hwm_hits} times)"
    );
    push.deregister(poll.registry());
    pull.deregister(poll.registry());
}
