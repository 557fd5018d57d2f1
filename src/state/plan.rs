//! Planning: for each input file, whether its content was counted before and from where to
//! read what is new.
//!
//! [`decide`] is the decision, a pure function of the manifest's entries and the file's
//! fingerprints (its table is the test below); [`State::plan`] reads the fingerprints
//! ([`super::fingerprint`]) and applies the decision to the files.

use std::collections::HashSet;

use super::State;
use super::fingerprint::{Observed, Prints, observe, tail_at};
use super::manifest::{Entry, hex, parse_hex};
use crate::input::{InputFile, content_hash};

/// What to do with one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Everything in it was counted before.
    Skip { entry: usize, why: &'static str },
    /// Read from the entry's end and add to it.
    Resume { entry: usize },
    /// Read whole and replace the entry (a CTS document that was rewritten).
    Replace { entry: usize },
    /// New content.
    New,
    /// Not readable: the scan reports it.
    Unreadable,
}

/// Where the scan of a file starts: past the content an entry counted, or at 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct ReadFrom {
    /// Content offset: everything before it was counted.
    pub start: u64,
    /// Lines before `start`, for numbering malformed lines.
    pub line_base: u64,
    /// Compressed files: the hash of the content just before `start`, checked while
    /// decompressing (the scan reads from 0 when it differs).
    pub expect_tail: Option<(u64, u128)>,
}

impl State {
    /// Decides, for each file, what is new in it. Adjusts `start`, `line_base`, `expect_tail`
    /// and, for live plain files, `len` (to the last complete line). Files that share their
    /// head with an earlier file of the same batch are deferred (`None`) to a later batch so
    /// that the same content is never read twice in one run.
    pub fn plan(&self, files: &mut [InputFile]) -> Vec<Option<(Plan, Prints)>> {
        let mut heads_in_batch: HashSet<(u64, u128)> = HashSet::new();
        let mut out = Vec::with_capacity(files.len());
        for f in files.iter_mut() {
            f.start = 0;
            f.line_base = 0;
            f.expect_tail = None;
            let (plan, p) = self.plan_one(f);
            if matches!(plan, Plan::Resume { .. } | Plan::Replace { .. } | Plan::New)
                && p.head_len > 0
                && !heads_in_batch.insert((p.head_len, p.head_hash))
            {
                out.push(None);
                continue;
            }
            out.push(Some((plan, p)));
        }
        out
    }

    /// Reads `f`'s fingerprints, decides, and sets where its scan starts.
    fn plan_one(&self, f: &mut InputFile) -> (Plan, Prints) {
        let Some(seen) = observe(f) else {
            return (Plan::Unreadable, Prints::default());
        };
        let path = &f.path;
        let (plan, from) = decide(&self.manifest.entries, &seen, |end, len| {
            tail_at(path, end, len).ok()
        });
        f.start = from.start;
        f.line_base = from.line_base;
        f.expect_tail = from.expect_tail;
        (plan, seen.prints)
    }
}

/// What to do with a file, from the manifest's `entries` and what was read of the file.
/// `tail_before(end, len)` is the hash of the file's `len` bytes before `end` (`None` when
/// they cannot be read); it is asked only of a plain file at least as long as an entry
/// whose head it shares, to tell whether it grew from that entry's content.
///
/// Must stay true: content counted before is never counted again (skip or resume past it),
/// and what cannot be proven to be counted content is read (new, or replacing a document).
pub(super) fn decide(
    entries: &[Entry],
    file: &Observed,
    mut tail_before: impl FnMut(u64, u64) -> Option<u128>,
) -> (Plan, ReadFrom) {
    if let Some(raw) = &file.prints.raw
        && let Some(i) = entries.iter().position(|e| e.raw.contains(raw))
    {
        let plan = skip(i, "already counted (same compressed file)");
        return (plan, ReadFrom::default());
    }
    for i in sharing_head(entries, &file.head) {
        if let Some(decided) = against(&entries[i], i, file, &mut tail_before) {
            return decided;
        }
    }
    (Plan::New, ReadFrom::default())
}

/// Entries whose head this content starts with, the longest counted first (the others'
/// content is a prefix of it when it matches). An entry of empty content (an empty file
/// stored by an earlier version) has no head: every content starts with it, so it would
/// take any file for a copy or a growth of itself.
fn sharing_head(entries: &[Entry], head: &[u8]) -> Vec<usize> {
    let mut candidates: Vec<usize> = (0..entries.len())
        .filter(|&i| {
            let e = &entries[i];
            e.head_len > 0
                && e.head_len <= head.len() as u64
                && hex(content_hash(&head[..e.head_len as usize])) == e.head_hash
        })
        .collect();
    candidates.sort_by_key(|&i| std::cmp::Reverse(entries[i].len));
    candidates
}

/// The decision against entry `i` (`e`), whose head the file shares, or `None` when the
/// file's bytes at the end of what `e` counted differ: it did not grow from `e`'s content.
fn against(
    e: &Entry,
    i: usize,
    file: &Observed,
    tail_before: &mut impl FnMut(u64, u64) -> Option<u128>,
) -> Option<(Plan, ReadFrom)> {
    if file.compressed && !file.document {
        // Verified while decompressing: the scan reads from 0 if the tail differs.
        let from = ReadFrom {
            start: e.len,
            line_base: e.lines,
            expect_tail: parse_hex(&e.tail_hash).map(|h| (e.tail_len, h)),
        };
        return Some((Plan::Resume { entry: i }, from));
    }
    if file.document {
        let same = file
            .prints
            .tail
            .is_some_and(|t| e.len == file.len && tail_matches(e, t));
        let plan = if same {
            skip(i, "already counted (same document)")
        } else {
            Plan::Replace { entry: i }
        };
        return Some((plan, ReadFrom::default()));
    }
    if file.len < e.len {
        // Same head, shorter: a prefix of content counted before (a copy taken earlier, or
        // a copytruncate copy).
        let plan = skip(i, "already counted (holds less than was counted)");
        return Some((plan, ReadFrom::default()));
    }
    if tail_before(e.len, e.tail_len).is_none_or(|h| hex(h) != e.tail_hash) {
        return None;
    }
    if file.len == e.len {
        return Some((
            skip(i, "already counted (nothing new)"),
            ReadFrom::default(),
        ));
    }
    let from = ReadFrom {
        start: e.len,
        line_base: e.lines,
        expect_tail: None,
    };
    Some((Plan::Resume { entry: i }, from))
}

fn skip(entry: usize, why: &'static str) -> Plan {
    Plan::Skip { entry, why }
}

fn tail_matches(e: &Entry, tail: (u64, u128)) -> bool {
    e.tail_len == tail.0 && e.tail_hash == hex(tail.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::TAIL;
    use crate::state::RawId;

    /// An entry that counted `content` (`lines` lines) when its first `head_len` bytes were
    /// its head: a content first counted short and resumed since keeps its first head.
    fn entry(content: &[u8], head_len: usize, lines: u64) -> Entry {
        let tail = &content[content.len().saturating_sub(TAIL as usize)..];
        Entry {
            id: String::new(),
            seq: 0,
            format: "json".into(),
            head_len: head_len as u64,
            head_hash: hex(content_hash(&content[..head_len])),
            len: content.len() as u64,
            lines,
            tail_len: tail.len() as u64,
            tail_hash: hex(content_hash(tail)),
            raw: Vec::new(),
            names: Vec::new(),
            partial: None,
            parts: Vec::new(),
            rows: 0,
            first_hour: None,
            last_hour: None,
            counted_at: String::new(),
            updated_at: String::new(),
            seen_at: String::new(),
        }
    }

    fn raw_id(n: u8) -> RawId {
        RawId {
            size: 100 + u64::from(n),
            head_hash: format!("{n:032x}"),
            tail_hash: format!("{n:032x}"),
        }
    }

    #[derive(Clone, Copy)]
    enum Kind {
        Plain,
        Compressed,
        PlainDocument,
        CompressedDocument,
    }

    /// What planning reads of a file holding `content`; a compressed one is `raw` on disk.
    fn seen(content: &[u8], kind: Kind, raw: u8) -> Observed {
        let compressed = matches!(kind, Kind::Compressed | Kind::CompressedDocument);
        let document = matches!(kind, Kind::PlainDocument | Kind::CompressedDocument);
        let head = content[..content.len().min(super::super::HEAD as usize)].to_vec();
        let tail = &content[content.len().saturating_sub(TAIL as usize)..];
        let prints = Prints {
            head_len: head.len() as u64,
            head_hash: content_hash(&head),
            tail: (!compressed).then(|| (tail.len() as u64, content_hash(tail))),
            raw: compressed.then(|| raw_id(raw)),
        };
        Observed {
            len: if compressed {
                raw_id(raw).size
            } else {
                content.len() as u64
            },
            compressed,
            document,
            head,
            prints,
        }
    }

    struct Case {
        why: &'static str,
        entries: Vec<Entry>,
        file: Observed,
        /// The file's bytes before an offset can be read (a plain file that is still there).
        readable: bool,
        plan: Plan,
        from: ReadFrom,
    }

    const COUNTED: &[u8] = b"L1\nL2\n";
    const GROWN: &[u8] = b"L1\nL2\nL3\n";

    fn resume_at(start: u64, line_base: u64) -> ReadFrom {
        ReadFrom {
            start,
            line_base,
            expect_tail: None,
        }
    }

    fn case(why: &'static str, entries: Vec<Entry>, file: Observed, plan: Plan) -> Case {
        Case {
            why,
            entries,
            file,
            readable: true,
            plan,
            from: ReadFrom::default(),
        }
    }

    impl Case {
        fn from(self, from: ReadFrom) -> Case {
            Case { from, ..self }
        }
    }

    fn cases() -> Vec<Case> {
        [new_content(), compressed_and_documents(), plain_lines()]
            .into_iter()
            .flatten()
            .collect()
    }

    fn new_content() -> Vec<Case> {
        use Kind::*;
        vec![
            case(
                "nothing counted yet: new",
                vec![],
                seen(GROWN, Plain, 0),
                Plan::New,
            ),
            case(
                "no entry's head starts the content: new",
                vec![entry(b"X1\nX2\n", 3, 2)],
                seen(GROWN, Plain, 0),
                Plan::New,
            ),
            case(
                "same head but other bytes before the counted end (rewritten): new",
                vec![entry(COUNTED, 3, 2)],
                seen(b"L1\nX2\nX3\n", Plain, 0),
                Plan::New,
            ),
            Case {
                readable: false,
                ..case(
                    "the bytes before the counted end cannot be read: new",
                    vec![entry(COUNTED, 6, 2)],
                    seen(GROWN, Plain, 0),
                    Plan::New,
                )
            },
            case(
                "a copy shorter than an entry's head is not recognised as a prefix of its \
                 content: new",
                vec![entry(GROWN, 9, 3)],
                seen(COUNTED, Plain, 0),
                Plan::New,
            ),
        ]
    }

    fn compressed_and_documents() -> Vec<Case> {
        use Kind::*;
        let mut read_whole = entry(COUNTED, 6, 2);
        read_whole.raw.push(raw_id(7));
        vec![
            case(
                "the same compressed bytes as a file read whole before: skipped without \
                 decompressing, whatever its head",
                vec![entry(b"X1\n", 3, 1), read_whole],
                seen(GROWN, Compressed, 7),
                skip(1, "already counted (same compressed file)"),
            ),
            case(
                "a compressed copy of counted content (rotated, then compressed): resume past \
                 what was counted, its tail checked while decompressing",
                vec![entry(COUNTED, 6, 2)],
                seen(GROWN, Compressed, 1),
                Plan::Resume { entry: 0 },
            )
            .from(ReadFrom {
                expect_tail: Some((6, content_hash(COUNTED))),
                ..resume_at(6, 2)
            }),
            case(
                "a compressed document sharing a head: no plain tail to compare, replaced",
                vec![entry(COUNTED, 6, 2)],
                seen(COUNTED, CompressedDocument, 1),
                Plan::Replace { entry: 0 },
            ),
            case(
                "a document of the same length and tail: skipped",
                vec![entry(COUNTED, 6, 2)],
                seen(COUNTED, PlainDocument, 0),
                skip(0, "already counted (same document)"),
            ),
            case(
                "a document rewritten since (same head, other length and tail): read whole, \
                 replacing the entry",
                vec![entry(COUNTED, 3, 2)],
                seen(GROWN, PlainDocument, 0),
                Plan::Replace { entry: 0 },
            ),
            case(
                "a document with the same last bytes but another length (records inserted \
                 before them): replaced",
                vec![Entry {
                    len: 4 * TAIL,
                    ..entry(COUNTED, 6, 2)
                }],
                seen(COUNTED, PlainDocument, 0),
                Plan::Replace { entry: 0 },
            ),
        ]
    }

    fn plain_lines() -> Vec<Case> {
        use Kind::*;
        vec![
            case(
                "shorter than what was counted (an earlier copy, a copytruncate copy): skipped",
                vec![entry(GROWN, 3, 3)],
                seen(COUNTED, Plain, 0),
                skip(0, "already counted (holds less than was counted)"),
            ),
            case(
                "the same length and the same bytes before the counted end: skipped",
                vec![entry(COUNTED, 6, 2)],
                seen(COUNTED, Plain, 0),
                skip(0, "already counted (nothing new)"),
            ),
            case(
                "grown past the counted end, whose bytes match: resume from byte 6",
                vec![entry(COUNTED, 6, 2)],
                seen(GROWN, Plain, 0),
                Plan::Resume { entry: 0 },
            )
            .from(resume_at(6, 2)),
            case(
                "two entries share the head: the longest counted is tried first",
                vec![entry(b"L1\n", 3, 1), entry(COUNTED, 3, 2)],
                seen(GROWN, Plain, 0),
                Plan::Resume { entry: 1 },
            )
            .from(resume_at(6, 2)),
            case(
                "the longest counted differs at its end: the next one is tried",
                vec![entry(b"L1\n", 3, 1), entry(b"L1\nX2\n", 3, 2)],
                seen(GROWN, Plain, 0),
                Plan::Resume { entry: 0 },
            )
            .from(resume_at(3, 1)),
        ]
    }

    #[test]
    fn each_file_is_skipped_resumed_replaced_or_read_as_new_for_its_reason() {
        for case in cases() {
            // The contents are shorter than a head: the head is the whole file.
            let content = &case.file.head;
            let tail_before = |end: u64, len: u64| {
                let bytes = content.get(end.saturating_sub(len) as usize..end as usize)?;
                case.readable.then(|| content_hash(bytes))
            };
            let got = decide(&case.entries, &case.file, tail_before);
            assert_eq!(got, (case.plan.clone(), case.from), "{}", case.why);
        }
    }

    fn input(dir: &std::path::Path, name: &str, content: &[u8]) -> InputFile {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        InputFile {
            path,
            name: name.into(),
            len: content.len() as u64,
            compression: crate::input::Compression::None,
            format: Ok(crate::parse::LogFormat::Json),
            layout: "",
            keys: Vec::new(),
            live: false,
            start: 0,
            line_base: 0,
            expect_tail: None,
            notes: Vec::new(),
        }
    }

    /// Around the decision: a file that cannot be read is left to the scan to report, and a
    /// second file with the same content in one batch waits for the next batch.
    #[test]
    fn a_content_is_read_once_per_batch_and_unreadable_files_are_left_to_the_scan() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(&dir.path().join("state"), None).unwrap();
        let mut no_format = input(dir.path(), "c.log", GROWN);
        no_format.format = Err("no format".into());
        let mut gone = input(dir.path(), "d.log", GROWN);
        std::fs::remove_file(&gone.path).unwrap();
        gone.name = "gone".into();
        let mut files = vec![
            input(dir.path(), "a.log", GROWN),
            input(dir.path(), "b.log", GROWN),
            no_format,
            gone,
        ];
        let plans: Vec<Option<Plan>> = state
            .plan(&mut files)
            .into_iter()
            .map(|p| p.map(|p| p.0))
            .collect();
        let want = [
            Some(Plan::New),
            None,
            Some(Plan::Unreadable),
            Some(Plan::Unreadable),
        ];
        assert_eq!(plans, want);
    }
}
