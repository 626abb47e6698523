;; With --wasmtime-compat a named module is importable under its name
;; without `register`, in the script and in a thread it is shared with.

(module $env
  (func (export "seven") (result i32) (i32.const 7)))

(module (import "env" "seven" (func $f (result i32)))
  (func (export "main") (result i32) (call $f)))
(assert_return (invoke "main") (i32.const 7))

(thread $t (shared (module $env))
  (module (import "env" "seven" (func $f (result i32)))
    (func (export "main") (result i32) (i32.add (call $f) (i32.const 1))))
  (assert_return (invoke "main") (i32.const 8)))
(wait $t)
