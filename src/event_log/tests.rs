//! The event log against real files in temporary directories: writing, rotation, crash
//! recovery, corruption, retention and replay.

use super::record::{self, HEADER_LEN};
use super::*;
use std::time::{Duration, Instant};

/// A config with small segments, so a few dozen records rotate several times.
fn config(dir: &Path) -> LogConfig {
    LogConfig {
        dir: dir.to_path_buf(),
        max_bytes: u64::MAX,
        retention: None,
        sync: SyncPolicy::Commit,
        segment_bytes: 400,
    }
}

/// The event with seq `seq`, distinct for every seq.
fn event(seq: u64) -> Vec<u8> {
    format!("salt/job/{seq}/ret\n\n{{\"seq\": {seq}}}").into_bytes()
}

/// The time of event `seq`: one second apart.
fn nanos(seq: u64) -> u64 {
    1_700_000_000_000_000_000 + seq * 1_000_000_000
}

fn open(cfg: &LogConfig) -> (EventLog, Recovered) {
    match EventLog::open(cfg.clone()) {
        Ok(opened) => opened,
        Err(e) => panic!("open: {e}"),
    }
}

/// Appends events `from..=to` and commits them in one turn.
fn write(log: &mut EventLog, from: u64, to: u64) {
    for seq in from..=to {
        log.append(seq, nanos(seq), &event(seq)).unwrap();
    }
    log.commit(Instant::now()).unwrap();
}

/// Every record a reader has now.
fn drain(r: &mut LogReader) -> Vec<Record> {
    let mut out = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        out.push(rec);
    }
    out
}

fn seqs(recs: &[Record]) -> Vec<u64> {
    recs.iter().map(|r| r.seq).collect()
}

/// The segment files in the log's directory, oldest first.
fn files(dir: &Path) -> Vec<PathBuf> {
    list_segments(dir)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .collect()
}

fn open_err(cfg: &LogConfig) -> LogError {
    match EventLog::open(cfg.clone()) {
        Ok(_) => panic!("open succeeded"),
        Err(e) => e,
    }
}

#[test]
fn records_round_trip_across_rotated_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("events");
    let cfg = config(&dir);
    let (mut log, rec) = open(&cfg);
    assert_eq!(
        rec,
        Recovered {
            last_seq: None,
            cut_bytes: 0,
            segments: 0,
            records: 0
        }
    );
    assert_eq!(log.next_seq(), 1);
    assert_eq!(log.first_seq(), None);
    write(&mut log, 1, 5);
    write(&mut log, 6, 40);
    write(&mut log, 41, 41);
    let names = files(&dir);
    assert!(names.len() >= 5, "{names:?}");
    // Each segment but the last is within budget and named by its first record.
    assert!(names[0].ends_with("00000000000000000001.log"));
    for p in &names[..names.len() - 1] {
        assert!(fs::metadata(p).unwrap().len() <= 400);
    }
    let on_disk: u64 = names.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
    assert_eq!(log.bytes(), on_disk);
    assert_eq!(log.first_seq(), Some(1));
    assert_eq!(log.next_seq(), 42);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );

    let mut r = LogReader::open_at_seq(&dir, 1).unwrap();
    let all = drain(&mut r);
    assert_eq!(seqs(&all), (1..=41).collect::<Vec<_>>());
    for rec in &all {
        assert_eq!(rec.event, event(rec.seq));
        assert_eq!(rec.nanos, nanos(rec.seq));
    }
    assert_eq!(r.skipped(), 0);
}

#[test]
fn numbering_continues_across_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let (mut log, _) = open(&cfg);
    write(&mut log, 1, 30);
    drop(log);
    let (mut log, rec) = open(&cfg);
    assert_eq!(rec.last_seq, Some(30));
    assert_eq!(rec.records, 30);
    assert_eq!(rec.cut_bytes, 0);
    assert_eq!(rec.segments, files(tmp.path()).len());
    assert_eq!(log.next_seq(), 31);
    write(&mut log, 31, 35);
    drop(log);
    let (log, _) = open(&cfg);
    assert_eq!(log.next_seq(), 36);
    let mut r = LogReader::open_at_seq(tmp.path(), 1).unwrap();
    assert_eq!(seqs(&drain(&mut r)), (1..=35).collect::<Vec<_>>());
}

#[test]
fn append_refuses_a_seq_out_of_order_or_an_oversized_event() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, _) = open(&config(tmp.path()));
    let e = log.append(2, 0, b"x").unwrap_err();
    assert!(
        matches!(
            e,
            LogError::OutOfOrder {
                expected: 1,
                got: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains(&tmp.path().display().to_string()));
    log.append(1, 0, b"x").unwrap();
    assert!(log.append(1, 0, b"x").is_err());
    let big = vec![0u8; record::MAX_PAYLOAD + 1];
    assert!(matches!(
        log.append(2, 0, &big),
        Err(LogError::TooLarge { seq: 2, .. })
    ));
    assert_eq!(log.next_seq(), 2);
}

#[test]
fn a_torn_final_record_is_cut_at_the_last_good_one() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let (mut log, _) = open(&cfg);
    write(&mut log, 1, 20);
    drop(log);
    let last = files(tmp.path()).pop().unwrap();
    let len = fs::metadata(&last).unwrap().len();
    // Cut the last record in half: a crash mid-write.
    let f = OpenOptions::new().write(true).open(&last).unwrap();
    f.set_len(len - 10).unwrap();
    drop(f);
    let (mut log, rec) = open(&cfg);
    let rec_len = (record::RECORD_HEADER_LEN + event(20).len()) as u64;
    assert_eq!(rec.cut_bytes, rec_len - 10);
    assert_eq!(rec.last_seq, Some(19));
    assert_eq!(log.next_seq(), 20);
    assert_eq!(fs::metadata(&last).unwrap().len(), len - rec_len);
    // The numbering goes on from the last record kept.
    write(&mut log, 20, 22);
    drop(log);

    // Garbage after the last good record: a torn write of bytes that never made sense.
    let last = files(tmp.path()).pop().unwrap();
    let len = fs::metadata(&last).unwrap().len();
    let mut state = 12345u64;
    let junk: Vec<u8> = (0..300).map(|_| xorshift(&mut state) as u8).collect();
    let f = OpenOptions::new().append(true).open(&last).unwrap();
    f.write_all_at(&junk, len).unwrap();
    drop(f);
    let (log, rec) = open(&cfg);
    assert_eq!(rec.cut_bytes, 300);
    assert_eq!(log.next_seq(), 23);
    assert_eq!(fs::metadata(&last).unwrap().len(), len);
    let mut r = LogReader::open_at_seq(tmp.path(), 1).unwrap();
    assert_eq!(seqs(&drain(&mut r)), (1..=22).collect::<Vec<_>>());
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_garbage_or_short_segment_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let (mut log, _) = open(&cfg);
    write(&mut log, 1, 30);
    drop(log);
    let names = files(tmp.path());
    assert!(names.len() >= 3);
    let first = fs::read(&names[0]).unwrap();

    // Random bytes where the oldest segment was.
    let mut state = 99u64;
    let junk: Vec<u8> = (0..200).map(|_| xorshift(&mut state) as u8).collect();
    fs::write(&names[0], &junk).unwrap();
    let e = open_err(&cfg);
    assert!(matches!(e, LogError::BadHeader { .. }), "{e}");
    let shown = e.to_string();
    assert!(shown.contains(&names[0].display().to_string()), "{shown}");
    assert!(shown.contains("bad magic"), "{shown}");

    // Shorter than a header, and not the last segment.
    fs::write(&names[1], &first[..7]).unwrap();
    fs::write(&names[0], &first).unwrap();
    let e = open_err(&cfg);
    assert!(
        e.to_string().contains(&names[1].display().to_string()),
        "{e}"
    );
    assert!(e.to_string().contains("shorter than the 20-byte"), "{e}");
}

#[test]
fn a_log_file_with_a_stray_name_is_refused_and_other_files_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    fs::write(tmp.path().join("README"), b"not a segment").unwrap();
    fs::write(tmp.path().join("00000000000000000001.log.bak"), b"x").unwrap();
    let (mut log, _) = open(&cfg);
    write(&mut log, 1, 3);
    drop(log);
    let stray = tmp.path().join("events.log");
    fs::write(&stray, b"").unwrap();
    let e = open_err(&cfg);
    assert!(matches!(e, LogError::BadHeader { .. }));
    assert!(e.to_string().contains(&stray.display().to_string()), "{e}");
}

#[test]
fn a_short_last_segment_is_rewritten_and_keeps_the_numbering() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        max_bytes: 0,
        ..config(tmp.path())
    };
    let (mut log, _) = open(&cfg);
    write(&mut log, 1, 30);
    drop(log);
    // Retention left only the current segment; a crash while creating the next one
    // leaves it empty. Its name still says where numbering goes on.
    let kept = files(tmp.path());
    assert_eq!(kept.len(), 1);
    let next = segment_path(tmp.path(), 31);
    fs::write(&next, &record::encode_header(31)[..5]).unwrap();
    let (mut log, rec) = open(&cfg);
    assert_eq!(rec.cut_bytes, 5);
    assert_eq!(log.next_seq(), 31);
    assert_eq!(fs::read(&next).unwrap(), record::encode_header(31));
    write(&mut log, 31, 31);
    drop(log);
    // And an empty one, alone.
    for p in files(tmp.path()) {
        fs::remove_file(p).unwrap();
    }
    fs::write(segment_path(tmp.path(), 77), b"").unwrap();
    let (log, rec) = open(&cfg);
    assert_eq!(
        (log.next_seq(), rec.last_seq, rec.records),
        (77, Some(76), 0)
    );
    assert_eq!(log.first_seq(), None);
}

#[test]
fn a_garbage_last_segment_with_a_whole_header_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let path = segment_path(tmp.path(), 1);
    fs::write(&path, b"this is no event log segment at all").unwrap();
    let e = open_err(&cfg);
    assert_eq!(
        e.to_string(),
        format!(
            "event log segment {}: not an event log segment (bad magic)",
            path.display()
        )
    );
    // A header naming another seq than the file name.
    fs::write(&path, record::encode_header(5)).unwrap();
    assert!(open_err(&cfg).to_string().contains("the file name 1"));
}

#[test]
fn a_flipped_byte_in_a_middle_segment_is_corrupt_with_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let (mut log, _) = open(&cfg);
    write(&mut log, 1, 40);
    drop(log);
    let names = files(tmp.path());
    let middle = &names[names.len() / 2];
    let mut bytes = fs::read(middle).unwrap();
    // Inside the second record's payload.
    let first_len = record::RECORD_HEADER_LEN
        + u32::from_le_bytes(bytes[HEADER_LEN..HEADER_LEN + 4].try_into().unwrap()) as usize;
    let second = HEADER_LEN + first_len;
    bytes[second + 30] ^= 0x40;
    fs::write(middle, &bytes).unwrap();
    let e = open_err(&cfg);
    match &e {
        LogError::Corrupt { path, offset, .. } => {
            assert_eq!(path, middle);
            assert_eq!(*offset, second as u64);
        }
        other => panic!("{other}"),
    }
    let shown = e.to_string();
    assert!(shown.contains(&middle.display().to_string()), "{shown}");
    assert!(shown.contains(&format!("at byte {second}")), "{shown}");
    assert!(shown.contains("checksum mismatch"), "{shown}");

    // The same damage in the last segment, with a good record after it, is no torn tail.
    fs::write(middle, {
        bytes[second + 30] ^= 0x40;
        &bytes
    })
    .unwrap();
    let last = names.last().unwrap();
    let mut bytes = fs::read(last).unwrap();
    let first_len = record::RECORD_HEADER_LEN
        + u32::from_le_bytes(bytes[HEADER_LEN..HEADER_LEN + 4].try_into().unwrap()) as usize;
    assert!(
        bytes.len() > HEADER_LEN + first_len,
        "the last segment has two records"
    );
    bytes[HEADER_LEN + 30] ^= 1;
    fs::write(last, &bytes).unwrap();
    let e = open_err(&cfg);
    assert!(matches!(e, LogError::Corrupt { offset: 20, .. }), "{e}");
}

#[test]
fn a_gap_between_segments_is_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let (mut log, _) = open(&cfg);
    write(&mut log, 1, 40);
    drop(log);
    let names = files(tmp.path());
    fs::remove_file(&names[1]).unwrap();
    let e = open_err(&cfg);
    assert!(
        matches!(&e, LogError::Corrupt { path, .. } if *path == names[2]),
        "{e}"
    );
}

#[test]
fn retention_by_size_drops_oldest_but_never_the_current_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        max_bytes: 1000,
        ..config(tmp.path())
    };
    let (mut log, _) = open(&cfg);
    for seq in 1..=60 {
        write(&mut log, seq, seq);
        assert!(log.bytes() <= 1000 + 400, "{}", log.bytes());
    }
    let names = files(tmp.path());
    let on_disk: u64 = names.iter().map(|p| fs::metadata(p).unwrap().len()).sum();
    assert_eq!(log.bytes(), on_disk);
    assert!(log.bytes() <= 1000);
    let oldest = log.first_seq().unwrap();
    assert!(oldest > 1);
    assert_eq!(names[0], segment_path(tmp.path(), oldest));

    // A budget of nothing keeps the current segment alone, and the numbering.
    drop(log);
    let cfg = LogConfig {
        max_bytes: 0,
        ..cfg
    };
    let (mut log, _) = open(&cfg);
    write(&mut log, 61, 61);
    assert_eq!(files(tmp.path()).len(), 1);
    drop(log);
    let (log, _) = open(&cfg);
    assert_eq!(log.next_seq(), 62);
}

#[test]
fn retention_by_age_uses_record_times() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        retention: Some(Duration::from_secs(10)),
        ..config(tmp.path())
    };
    let (mut log, _) = open(&cfg);
    // Events one second apart: a segment goes once its newest is 10 s older than the
    // newest in the log.
    write(&mut log, 1, 50);
    // Seq 40 is 10 s older than seq 50: the oldest segment kept ends at 40 or later, and
    // the one before it (ending before 40) is gone.
    let segs = list_segments(tmp.path()).unwrap();
    assert!(segs.len() >= 2);
    let oldest = log.first_seq().unwrap();
    assert_eq!(segs[0].0, oldest);
    assert!(oldest > 1 && oldest <= 40, "{oldest}");
    assert!(segs[1].0 > 40, "oldest kept ends at {}", segs[1].0 - 1);
    // An old log, and a long pause: everything but the current segment ages out.
    log.append(51, nanos(51) + 3_600_000_000_000, &event(51))
        .unwrap();
    log.commit(Instant::now()).unwrap();
    assert_eq!(files(tmp.path()).len(), 1);
    drop(log);
    let (log, _) = open(&cfg);
    assert_eq!(log.next_seq(), 52);
}

#[test]
fn a_failed_write_keeps_the_records_for_the_next_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let (mut log, _) = open(&cfg);
    write(&mut log, 1, 3);
    for seq in 4..=30 {
        log.append(seq, nanos(seq), &event(seq)).unwrap();
    }
    // The first write of the commit fails half way, as on a full disk.
    log.fail_after = Some(0);
    let e = log.commit(Instant::now()).unwrap_err();
    assert!(
        matches!(
            e,
            LogError::Io {
                doing: "writing",
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(log.next_seq(), 31);
    log.commit(Instant::now()).unwrap();
    // A failure after some segments were written keeps only what is not on disk.
    for seq in 31..=60 {
        log.append(seq, nanos(seq), &event(seq)).unwrap();
    }
    log.fail_after = Some(1);
    assert!(log.commit(Instant::now()).is_err());
    log.commit(Instant::now()).unwrap();
    drop(log);
    let (log, rec) = open(&cfg);
    assert_eq!(rec.cut_bytes, 0);
    assert_eq!(log.next_seq(), 61);
    let mut r = LogReader::open_at_seq(tmp.path(), 1).unwrap();
    let all = drain(&mut r);
    assert_eq!(seqs(&all), (1..=60).collect::<Vec<_>>());
    assert!(all.iter().all(|r| r.event == event(r.seq)));
}

#[test]
fn a_write_failing_after_a_rotation_keeps_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path());
    let (mut log, _) = open(&cfg);
    for seq in 1..=40 {
        log.append(seq, nanos(seq), &event(seq)).unwrap();
    }
    // Two segments' writes go through; the third fails half way.
    log.fail_after = Some(2);
    assert!(log.commit(Instant::now()).is_err());
    let before = files(tmp.path()).len();
    assert!(before >= 3);
    for seq in 41..=80 {
        log.append(seq, nanos(seq), &event(seq)).unwrap();
    }
    // The retry fails again at once, in the segment the last failure tore.
    log.fail_after = Some(0);
    assert!(log.commit(Instant::now()).is_err());
    log.commit(Instant::now()).unwrap();
    assert!(files(tmp.path()).len() > before);
    let mut r = LogReader::open_at_seq(tmp.path(), 1).unwrap();
    assert_eq!(seqs(&drain(&mut r)), (1..=80).collect::<Vec<_>>());
    drop(log);
    let (log, rec) = open(&cfg);
    assert_eq!((rec.cut_bytes, log.next_seq()), (0, 81));
}

#[test]
fn sync_every_interval_sets_a_deadline_and_meets_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = LogConfig {
        sync: SyncPolicy::Every(Duration::from_millis(100)),
        ..config(tmp.path())
    };
    let (mut log, _) = open(&cfg);
    assert_eq!(log.next_deadline(), None);
    let t0 = Instant::now();
    log.append(1, 1, b"a").unwrap();
    // The first write after open is synced at once.
    log.commit(t0).unwrap();
    assert_eq!(log.next_deadline(), None);
    log.append(2, 2, b"b").unwrap();
    log.commit(t0 + Duration::from_millis(10)).unwrap();
    assert_eq!(log.next_deadline(), Some(t0 + Duration::from_millis(100)));
    log.sync_due(t0 + Duration::from_millis(50)).unwrap();
    assert!(log.next_deadline().is_some());
    log.sync_due(t0 + Duration::from_millis(100)).unwrap();
    assert_eq!(log.next_deadline(), None);
    // Commit and Never have no deadlines.
    let other = tempfile::tempdir().unwrap();
    let (mut never, _) = open(&LogConfig {
        sync: SyncPolicy::Never,
        ..config(other.path())
    });
    never.append(1, 1, b"a").unwrap();
    never.commit(t0).unwrap();
    assert_eq!(never.next_deadline(), None);
}

#[test]
fn sync_policy_parses_its_spellings() {
    assert_eq!(SyncPolicy::parse("commit"), Ok(SyncPolicy::Commit));
    assert_eq!(SyncPolicy::parse("never"), Ok(SyncPolicy::Never));
    assert_eq!(
        SyncPolicy::parse("100"),
        Ok(SyncPolicy::Every(Duration::from_millis(100)))
    );
    assert_eq!(
        SyncPolicy::parse(" 250ms "),
        Ok(SyncPolicy::Every(Duration::from_millis(250)))
    );
    assert_eq!(
        SyncPolicy::parse("0"),
        Ok(SyncPolicy::Every(Duration::ZERO))
    );
    for bad in [
        "",
        "ms",
        "+5",
        "-1",
        "1.5",
        "10s",
        "Commit",
        "always",
        "99999999999999999999",
    ] {
        let e = SyncPolicy::parse(bad).unwrap_err();
        assert!(e.contains("commit, never, or milliseconds"), "{bad}: {e}");
    }
}

#[test]
fn reader_starts_at_a_seq_or_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, _) = open(&config(tmp.path()));
    write(&mut log, 1, 40);
    for start in [1, 2, 17, 39, 40] {
        let mut r = LogReader::open_at_seq(tmp.path(), start).unwrap();
        assert_eq!(
            seqs(&drain(&mut r)),
            (start..=40).collect::<Vec<_>>(),
            "{start}"
        );
    }
    let mut past = LogReader::open_at_seq(tmp.path(), 41).unwrap();
    assert!(drain(&mut past).is_empty());
    write(&mut log, 41, 42);
    assert_eq!(seqs(&drain(&mut past)), vec![41, 42]);

    for seq in [1, 13, 29, 42] {
        let mut r = LogReader::open_at_time(tmp.path(), nanos(seq)).unwrap();
        assert_eq!(r.next().unwrap().map(|r| r.seq), Some(seq));
        // Between two records: the later one.
        let mut r = LogReader::open_at_time(tmp.path(), nanos(seq) - 1).unwrap();
        assert_eq!(r.next().unwrap().map(|r| r.seq), Some(seq));
    }
    let mut r = LogReader::open_at_time(tmp.path(), 0).unwrap();
    assert_eq!(drain(&mut r).len(), 42);
    let mut r = LogReader::open_at_time(tmp.path(), nanos(43)).unwrap();
    assert!(drain(&mut r).is_empty());
}

#[test]
fn reader_follows_a_log_being_written() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, _) = open(&config(tmp.path()));
    // A reader opened before anything exists waits for the first segment.
    let mut r = LogReader::open_at_seq(tmp.path(), 1).unwrap();
    assert_eq!(r.next().unwrap(), None);
    let mut got = Vec::new();
    for turn in 0..30u64 {
        write(&mut log, turn * 3 + 1, turn * 3 + 3);
        got.extend(drain(&mut r));
    }
    assert_eq!(seqs(&got), (1..=90).collect::<Vec<_>>());

    // Half a record at the end of the newest segment is "no more yet".
    let last = files(tmp.path()).pop().unwrap();
    let mut rec = Vec::new();
    record::put_record(&mut rec, 91, nanos(91), &event(91)).unwrap();
    let len = fs::metadata(&last).unwrap().len();
    let f = OpenOptions::new().write(true).open(&last).unwrap();
    f.write_all_at(&rec[..30], len).unwrap();
    assert_eq!(r.next().unwrap(), None);
    f.write_all_at(&rec[30..], len + 30).unwrap();
    assert_eq!(r.next().unwrap().map(|r| r.seq), Some(91));
}

#[test]
fn reader_counts_records_lost_to_retention() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, _) = open(&config(tmp.path()));
    write(&mut log, 1, 40);
    let names = files(tmp.path());
    let mut r = LogReader::open_at_seq(tmp.path(), 1).unwrap();
    assert_eq!(r.next().unwrap().map(|r| r.seq), Some(1));
    // The segment being read is deleted: its open file stays readable. The next one is
    // deleted before the reader gets there: its records are skipped and counted.
    let second_first = list_segments(tmp.path()).unwrap()[1].0;
    let third_first = list_segments(tmp.path()).unwrap()[2].0;
    fs::remove_file(&names[0]).unwrap();
    fs::remove_file(&names[1]).unwrap();
    let rest = drain(&mut r);
    let mut want: Vec<u64> = (2..second_first).collect();
    want.extend(third_first..=40);
    assert_eq!(seqs(&rest), want);
    assert_eq!(r.skipped(), third_first - second_first);

    // A reader asking for what retention took starts at the oldest left.
    let mut r = LogReader::open_at_seq(tmp.path(), 1).unwrap();
    assert_eq!(r.next().unwrap().map(|r| r.seq), Some(third_first));
    assert_eq!(r.skipped(), third_first - 1);
}

#[test]
fn reader_is_send_and_reads_on_another_thread() {
    fn send<T: Send>(_: &T) {}
    let tmp = tempfile::tempdir().unwrap();
    let (mut log, _) = open(&config(tmp.path()));
    write(&mut log, 1, 10);
    let r = LogReader::open_at_seq(tmp.path(), 1).unwrap();
    send(&r);
    let got = std::thread::spawn(move || {
        let mut r = r;
        drain(&mut r).len()
    })
    .join()
    .unwrap();
    assert_eq!(got, 10);
}

#[test]
fn reader_reports_a_missing_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let gone = tmp.path().join("nope");
    let e = LogReader::open_at_seq(&gone, 1).unwrap_err();
    assert!(e.to_string().contains(&gone.display().to_string()), "{e}");
}
