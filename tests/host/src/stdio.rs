//! Guest stdout/stderr. Spin writes each component's output to
//! `.spin/logs/<component-id>_stdout.txt` / `_stderr.txt` (`docs/spin-fidelity.md`) and shows it
//! on the terminal; this host does the same, one line at a time, prefixing terminal lines
//! that are not JSON with the component id so every line says whose it is.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Where guest output goes.
pub struct GuestOutput {
    dir: Option<PathBuf>,
    files: Mutex<HashMap<String, Arc<Mutex<File>>>>,
}

impl GuestOutput {
    /// Output to the terminal and, if `dir` is set, to per-component files in it.
    pub fn new(dir: Option<PathBuf>) -> anyhow::Result<Self> {
        if let Some(d) = &dir {
            std::fs::create_dir_all(d)?;
        }
        Ok(Self {
            dir,
            files: Mutex::new(HashMap::new()),
        })
    }

    fn file(&self, name: String) -> Option<Arc<Mutex<File>>> {
        let dir = self.dir.as_ref()?;
        let mut files = self.files.lock().ok()?;
        if let Some(f) = files.get(&name) {
            return Some(f.clone());
        }
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(&name))
            .ok()?;
        let f = Arc::new(Mutex::new(f));
        files.insert(name, f.clone());
        Some(f)
    }

    /// A stream for one component's stdout (`stderr = false`) or stderr.
    pub fn stream(&self, component: &str, stderr: bool) -> LineStream {
        let suffix = if stderr { "stderr" } else { "stdout" };
        LineStream {
            component: component.into(),
            stderr,
            file: self.file(format!("{component}_{suffix}.txt")),
        }
    }
}

/// Line-buffered guest output.
#[derive(Clone)]
pub struct LineStream {
    component: Arc<str>,
    stderr: bool,
    file: Option<Arc<Mutex<File>>>,
}

impl IsTerminal for LineStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LineStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            out: self.clone(),
            buf: Vec::new(),
        })
    }
}

struct LineWriter {
    out: LineStream,
    buf: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        if let Some(f) = &self.out.file
            && let Ok(mut f) = f.lock()
        {
            let _ = writeln!(f, "{text}");
        }
        let console = if text.starts_with('{') {
            text.to_string()
        } else {
            format!("[{}] {text}", self.out.component)
        };
        if self.out.stderr {
            let _ = writeln!(std::io::stderr().lock(), "{console}");
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{console}");
        }
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let me = &mut *self;
        me.buf.extend_from_slice(data);
        while let Some(pos) = me.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = me.buf.drain(..=pos).collect();
            me.emit(&line[..line.len() - 1]);
        }
        if me.buf.len() > 64 * 1024 {
            let line = std::mem::take(&mut me.buf);
            me.emit(&line);
        }
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.emit(&line);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let line = std::mem::take(&mut self.buf);
            self.emit(&line);
        }
    }
}
