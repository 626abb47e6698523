//! Paths never leave a preopened directory, tested at the ABI (wasi-libc
//! resolves some paths itself before they reach the runtime): `..` past
//! the directory, absolute paths, and symbolic links pointing out, for
//! opening, creating, stat, links and renames; all fail with
//! `ENOTCAPABLE` (76) and touch nothing outside, while paths inside work.

use std::path::PathBuf;

mod common;

use common::linker;
use onecopy_runtime::{Engine, Instance, Module, Store};
use onecopy_wasi::WasiCtx;

/// `open(path, len, oflags) -> errno` on fd 3 (the preopen), and
/// `stat(path, len, follow) -> errno`, `rename(old, len, new, len)`,
/// `link(old, len, new, len)` and `mkdir(path, len)`; paths at 1024+.
const PROBE: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get" (func $stat (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_rename" (func $rename (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_link" (func $link (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_create_directory" (func $mkdir (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "open") (param i32 i32 i32) (result i32)
    (call $open (i32.const 3) (i32.const 1) (local.get 0) (local.get 1) (local.get 2)
      (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 0)))
  (func (export "stat") (param i32 i32 i32) (result i32)
    (call $stat (i32.const 3) (local.get 2) (local.get 0) (local.get 1) (i32.const 64)))
  (func (export "rename") (param i32 i32 i32 i32) (result i32)
    (call $rename (i32.const 3) (local.get 0) (local.get 1) (i32.const 3) (local.get 2) (local.get 3)))
  (func (export "link") (param i32 i32 i32 i32) (result i32)
    (call $link (i32.const 3) (i32.const 0) (local.get 0) (local.get 1) (i32.const 3) (local.get 2) (local.get 3)))
  (func (export "mkdir") (param i32 i32) (result i32)
    (call $mkdir (i32.const 3) (local.get 0) (local.get 1))))"#;

const NOTCAPABLE: i32 = 76;
const CREAT: i32 = 1;

struct Probe {
    store: Store<WasiCtx>,
    instance: Instance,
    root: PathBuf,
}

impl Probe {
    fn new() -> Probe {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("sandbox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        std::fs::write(root.join("outside.txt"), "outside").unwrap();
        std::fs::write(root.join("data/inside.txt"), "inside").unwrap();
        std::os::unix::fs::symlink("../outside.txt", root.join("data/up")).unwrap();
        std::os::unix::fs::symlink(root.join("outside.txt"), root.join("data/absolute")).unwrap();
        std::os::unix::fs::symlink("/", root.join("data/slash")).unwrap();
        let engine = Engine::default();
        let ctx = WasiCtx::builder().preopened_dir(root.join("data"), "data").unwrap().build();
        let mut store = Store::new(&engine, ctx);
        let module = Module::new(&engine, wat::parse_str(PROBE).unwrap()).unwrap();
        let instance = linker(&engine).instantiate(&mut store, &module).unwrap();
        Probe { store, instance, root }
    }

    /// Place `paths` at 1024, 2048, ... and call `name` with (ptr, len) of each, then `extra`.
    fn call(&mut self, name: &str, paths: &[&str], extra: &[i32]) -> i32 {
        let memory = self.instance.get_memory(&self.store, "memory").unwrap();
        let mut args = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let at = 1024 * (i + 1);
            memory.write(&mut self.store, at, path.as_bytes()).unwrap();
            args.extend([onecopy_runtime::Val::I32(at as i32), onecopy_runtime::Val::I32(path.len() as i32)]);
        }
        args.extend(extra.iter().map(|x| onecopy_runtime::Val::I32(*x)));
        let func = self.instance.get_func(&self.store, name).unwrap();
        let mut result = [onecopy_runtime::Val::I32(-1)];
        func.call(&mut self.store, &args, &mut result).unwrap();
        result[0].i32().unwrap()
    }
}

#[test]
fn no_path_leaves_the_preopened_directory() {
    let mut probe = Probe::new();
    for path in ["inside.txt", "sub/../inside.txt", "./inside.txt"] {
        assert_eq!(probe.call("open", &[path], &[0]), 0, "{path} is inside");
    }
    for path in ["../outside.txt", "sub/../../outside.txt", "/etc/passwd", "/", "..", "up", "absolute", "slash/etc/passwd"] {
        assert_eq!(probe.call("open", &[path], &[0]), NOTCAPABLE, "open {path}");
        assert_eq!(probe.call("stat", &[path], &[1]), NOTCAPABLE, "stat (following) {path}");
    }
    for path in ["../created.txt", "/tmp/created-by-a-sandboxed-guest", "up"] {
        assert_eq!(probe.call("open", &[path], &[CREAT]), NOTCAPABLE, "create {path}");
    }
    assert_eq!(probe.call("mkdir", &["../made"], &[]), NOTCAPABLE);
    assert_eq!(probe.call("rename", &["inside.txt", "../moved.txt"], &[]), NOTCAPABLE);
    assert_eq!(probe.call("rename", &["../outside.txt", "stolen.txt"], &[]), NOTCAPABLE);
    assert_eq!(probe.call("link", &["../outside.txt", "linked.txt"], &[]), NOTCAPABLE);
    // A link itself can be looked at without following it.
    assert_eq!(probe.call("stat", &["up"], &[0]), 0);
    let root = &probe.root;
    assert_eq!(std::fs::read_to_string(root.join("outside.txt")).unwrap(), "outside", "nothing outside changed");
    assert!(!root.join("created.txt").exists() && !root.join("made").exists() && !root.join("moved.txt").exists());
    assert!(root.join("data/inside.txt").exists() && !root.join("data/stolen.txt").exists());
}

#[test]
fn bad_guest_pointers_and_descriptors_are_errnos() {
    let mut probe = Probe::new();
    let open = probe.instance.get_typed_func::<(i32, i32, i32), i32>(&probe.store, "open").unwrap();
    const FAULT: i32 = 21;
    assert_eq!(open.call(&mut probe.store, (65530, 100, 0)).unwrap(), FAULT, "a path past the end of memory");
    assert_eq!(open.call(&mut probe.store, (-1, 4, 0)).unwrap(), FAULT);
    let memory = probe.instance.get_memory(&probe.store, "memory").unwrap();
    memory.write(&mut probe.store, 0, &[0xff, 0xfe]).unwrap();
    const ILSEQ: i32 = 25;
    assert_eq!(open.call(&mut probe.store, (0, 2, 0)).unwrap(), ILSEQ, "a path that is not UTF-8");
}

#[test]
fn calls_onecopy_does_not_implement_return_enosys() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        wat::parse_str(
            r#"(module
          (import "wasi_snapshot_preview1" "sock_shutdown" (func $shutdown (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_raise" (func $raise (param i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "shutdown") (result i32) (call $shutdown (i32.const 1) (i32.const 0)))
          (func (export "raise") (result i32) (call $raise (i32.const 6)))
          (func (export "close_twice") (result i32)
            (drop (call $close (i32.const 0)))
            (call $close (i32.const 0))))"#,
        )
        .unwrap(),
    )
    .unwrap();
    let mut store = Store::new(&engine, WasiCtx::builder().build());
    let instance = linker(&engine).instantiate(&mut store, &module).unwrap();
    const NOSYS: i32 = 52;
    const BADF: i32 = 8;
    for (name, expected) in [("shutdown", NOSYS), ("shutdown", NOSYS), ("raise", NOSYS), ("close_twice", BADF)] {
        let f = instance.get_typed_func::<(), i32>(&store, name).unwrap();
        assert_eq!(f.call(&mut store, ()).unwrap(), expected, "{name}");
    }
}
