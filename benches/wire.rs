//! wire decode cost: validating a frame's event and borrowing its tag and body.
//! Prints criterion's time per decode (ns/event).

use brine::wire::{self, Event};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;

fn decode(c: &mut Criterion) {
    // A typical 100-byte event: a job return.
    let data = json!({"id": "m1", "jid": "20240501100000123456", "return": true, "retcode": 0,
                      "_stamp": "2024-05-01T10:00:00.123456"});
    let bytes = wire::encode("salt/job/1/ret/m1", &data).unwrap();
    let mut g = c.benchmark_group("wire");
    g.throughput(Throughput::Elements(1));
    g.bench_function(format!("decode {} B event (ns/event)", bytes.len()), |b| {
        b.iter(|| Event::decode(black_box(&bytes), 1 << 20).map(|e| e.tag().len()))
    });
    g.bench_function(
        format!("decode+typed data {} B event (ns/event)", bytes.len()),
        |b| {
            #[derive(serde::Deserialize)]
            struct Ret<'a> {
                id: &'a str,
                retcode: i32,
            }
            b.iter(|| {
                let ev = Event::decode(black_box(&bytes), 1 << 20).unwrap();
                let r: Ret = ev.data().unwrap();
                (r.id.len(), r.retcode)
            })
        },
    );
    g.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
