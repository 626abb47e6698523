;; What script threads cannot do is skipped with the reason, never a crash
;; or a failure: shared memory (the threads proposal), and a thread's module
;; importing the memory or a mutable global of an instance another thread
;; owns.

(module $Mem (memory (export "shared") 1 1 shared))

(thread $T1 (shared (module $Mem))
  (register "mem" $Mem)
  (module
    (memory (import "mem" "shared") 1 1 shared)
    (func (export "run") (i32.store (i32.const 0) (i32.const 42))))
  (invoke "run"))
(wait $T1)

(module $plain
  (memory (export "memory") 1)
  (global (export "g") (mut i32) (i32.const 0))
  (func (export "f") (result i32) (i32.const 3)))

(thread $T2 (shared (module $plain))
  (register "plain" $plain)
  (module (import "plain" "memory" (memory 1)))
  (module (import "plain" "g" (global (mut i32))))
  (module (import "plain" "f" (func (result i32))) (export "f" (func 0)))
  (assert_return (invoke "f") (i32.const 3)))
(wait $T2)
