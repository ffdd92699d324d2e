//! brine-api's side of the master: the bus link (its subscription to every event, which feeds
//! the `/events` streams and the `local` calls' returns, and the events webhooks fire) and one
//! connection per call, answered in its own time.

use super::*;

impl ApiLoop {
    pub(super) fn connect_master(&mut self) {
        if self.link.sock.is_some() || Instant::now() < self.link.retry_at {
            return;
        }
        match UnixStream::connect(&self.socket_path) {
            Ok(mut s) => {
                let sub = bus::subscribe_payload(MatchType::StartsWith, "");
                let mut out = wire::frame(kind::SUBSCRIBE, &sub);
                // Events fired while the master was away go first after the subscription.
                out.extend_from_slice(&self.link.out[self.link.off..]);
                self.link.out = out;
                self.link.off = 0;
                if self
                    .poll
                    .registry()
                    .register(&mut s, MASTER, Interest::READABLE | Interest::WRITABLE)
                    .is_ok()
                {
                    log::info!("connected to the master at {}", self.socket_path.display());
                    self.link.sock = Some(s);
                    self.link.reader = FrameReader::new(64 << 20);
                    self.api.master_up = true;
                }
            }
            Err(e) => {
                if self.api.master_up {
                    log::warn!(
                        "cannot reach the master at {}: {e}",
                        self.socket_path.display()
                    );
                }
                self.api.master_up = false;
                self.link.retry_at = Instant::now() + Duration::from_millis(500);
            }
        }
    }

    pub(super) fn master_lost(&mut self, why: &str) {
        if let Some(mut s) = self.link.sock.take() {
            let _ = self.poll.registry().deregister(&mut s);
            log::warn!("lost the master's bus: {why}");
        }
        self.api.master_up = false;
        self.link.retry_at = Instant::now() + Duration::from_millis(200);
    }

    pub(super) fn fire(&mut self, tag: &str, data: Map<String, Value>) {
        let max = self.api.config().max_event_size;
        match wire::encode_fired(tag, data, crate::clock::stamp(SystemTime::now()), max) {
            Ok(bytes) => {
                if self.link.out.len() - self.link.off > MASTER_OUT_MAX {
                    log::warn!("dropped event {tag}: the master is not reading");
                    return;
                }
                wire::put_frame(&mut self.link.out, kind::FIRE, &bytes);
                self.write_master();
            }
            Err(e) => log::warn!("cannot fire {tag}: {e}"),
        }
    }

    pub(super) fn write_master(&mut self) {
        let Some(s) = self.link.sock.as_mut() else {
            return;
        };
        while self.link.off < self.link.out.len() {
            match s.write(&self.link.out[self.link.off..]) {
                Ok(0) => break,
                Ok(n) => self.link.off += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let why = e.to_string();
                    self.master_lost(&why);
                    return;
                }
            }
        }
        if self.link.off == self.link.out.len() {
            self.link.out.clear();
            self.link.off = 0;
        } else if self.link.off > (1 << 20) {
            self.link.out.drain(..self.link.off);
            self.link.off = 0;
        }
    }

    pub(super) fn master_ready(&mut self) {
        self.write_master();
        let mut frames: Vec<(u8, Vec<u8>)> = Vec::new();
        {
            let Some(s) = self.link.sock.as_mut() else {
                return;
            };
            let mut closed = None;
            for _ in 0..64 {
                match self.link.reader.read_from(s) {
                    Ok(0) => {
                        closed = Some("the master closed the connection".to_string());
                        break;
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        closed = Some(e.to_string());
                        break;
                    }
                }
                while let Some(n) = self.link.reader.next_frame() {
                    if let Next::Frame(k, p) = n {
                        frames.push((k, p.to_vec()));
                    }
                }
            }
            while let Some(n) = self.link.reader.next_frame() {
                if let Next::Frame(k, p) = n {
                    frames.push((k, p.to_vec()));
                }
            }
            if let Some(why) = closed {
                self.master_lost(&why);
            }
        }
        let mut dirty: std::collections::HashSet<Token> = std::collections::HashSet::new();
        for (k, p) in frames {
            let ev = match k {
                kind::EVENT => Some(p.as_slice()),
                kind::SEQ_EVENT => wire::split_seq(&p).ok().map(|(_, e)| e),
                _ => None,
            };
            if let Some(ev) = ev {
                self.event(ev, &mut dirty);
            }
        }
        for t in dirty {
            self.flush_conn(t);
        }
        self.carry_out();
    }

    pub(super) fn event(&mut self, raw: &[u8], dirty: &mut std::collections::HashSet<Token>) {
        let Ok(ev) = wire::Event::decode(raw, usize::MAX) else {
            return;
        };
        let tag = ev.tag().to_string();
        // The data is decoded only for someone: an open stream, or a job return that a
        // `local` call waits for (or may, its publish answer still on the way).
        let streams = self.api.stats.sse_clients > 0;
        let job_return = tag.starts_with("salt/job/") && tag.contains("/ret/");
        if !streams && !job_return {
            return;
        }
        let Ok(data) = ev.value() else { return };
        let now = Now::read();
        let wall = unix(now.wall);
        let sse_max = self.api.config().sse_buffer;
        let mut framed: Option<Vec<u8>> = None;
        let mut touched = Vec::new();
        let mut expired = Vec::new();
        for (t, c) in self.conns.iter_mut() {
            let Some(st) = c.stream.as_mut() else {
                continue;
            };
            if c.closing {
                continue;
            }
            if st.spec.expire <= wall {
                expired.push(*t);
                continue;
            }
            if let Some(p) = &st.spec.patterns {
                if !p.iter().any(|g| crate::matcher::fnmatch(&tag, g)) {
                    continue;
                }
            }
            let backlog = c.out.len() - c.off;
            if backlog > sse_max {
                st.lost += 1;
                continue;
            }
            if st.lost > 0 && backlog < sse_max / 2 {
                let mut m = Map::new();
                m.insert("count".into(), Value::from(st.lost));
                m.insert(
                    "_stamp".into(),
                    Value::String(crate::clock::stamp(now.wall)),
                );
                let notice = http::chunk(&crate::api::sse::event(crate::bus::LOST_TAG, &m));
                c.out.extend_from_slice(&notice);
                self.api.stream_lost(st.lost);
                st.lost = 0;
            }
            let bytes =
                framed.get_or_insert_with(|| http::chunk(&crate::api::sse::event(&tag, &data)));
            c.out.extend_from_slice(bytes);
            touched.push((*t, c.out.len() - c.off >= 4096));
        }
        for (t, now_) in touched {
            if now_ {
                dirty.remove(&t);
                self.flush_conn(t);
            } else {
                dirty.insert(t);
            }
        }
        for t in expired {
            self.end_stream(t);
        }
        self.api.on_event(&tag, &data, now);
    }

    pub(super) fn start_call(&mut self, op: OpId, req: &bus::Request) {
        let payload = match rmp_serde::to_vec_named(req) {
            Ok(p) => p,
            Err(e) => return self.api.on_answer(op, Err(e.to_string()), Now::read()),
        };
        let mut sock = match UnixStream::connect(&self.socket_path) {
            Ok(s) => s,
            Err(e) => {
                let why = format!(
                    "cannot reach the master at {}: {e}",
                    self.socket_path.display()
                );
                return self.api.on_answer(op, Err(why), Now::read());
            }
        };
        let t = self.token();
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut sock, t, Interest::READABLE | Interest::WRITABLE)
        {
            return self.api.on_answer(op, Err(e.to_string()), Now::read());
        }
        self.calls.insert(
            t,
            CallConn {
                op,
                sock,
                out: wire::frame(kind::REQUEST, &payload),
                off: 0,
                reader: FrameReader::new(64 << 20),
            },
        );
    }

    pub(super) fn call_ready(&mut self, t: Token) {
        let Some(c) = self.calls.get_mut(&t) else {
            return;
        };
        while c.off < c.out.len() {
            match c.sock.write(&c.out[c.off..]) {
                Ok(0) => break,
                Ok(n) => c.off += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let mut result: Option<Result<Answer, String>> = None;
        loop {
            let mut buf = [0u8; 64 * 1024];
            match c.sock.read(&mut buf) {
                Ok(0) => {
                    result.get_or_insert(Err(
                        "the master closed the connection before answering".into()
                    ));
                    break;
                }
                Ok(n) => c.reader.extend(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    result.get_or_insert(Err(e.to_string()));
                    break;
                }
            }
            while let Some(n) = c.reader.next_frame() {
                match n {
                    Next::Frame(kind::ANSWER, p) => {
                        result = Some(
                            rmp_serde::from_slice::<Answer>(p)
                                .map_err(|e| format!("bad answer from the master: {e}")),
                        );
                    }
                    Next::Frame(kind::ERROR, p) => {
                        result = Some(Err(String::from_utf8_lossy(p).into_owned()));
                    }
                    _ => {}
                }
                if result.is_some() {
                    break;
                }
            }
            if result.is_some() {
                break;
            }
        }
        if let Some(r) = result {
            if let Some(mut c) = self.calls.remove(&t) {
                let _ = self.poll.registry().deregister(&mut c.sock);
                self.api.on_answer(c.op, r, Now::read());
                self.carry_out();
            }
        }
    }
}
