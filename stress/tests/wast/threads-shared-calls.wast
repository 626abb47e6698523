;; Several script threads instantiate modules that import one registered
;; module and call it; the module's state is the one state every thread sees.

(module $counter
  (global $n (mut i32) (i32.const 0))
  (global (export "base") i32 (i32.const 100))
  (func (export "inc") (result i32)
    (global.set $n (i32.add (global.get $n) (i32.const 1)))
    (global.get $n))
  (func (export "get") (result i32) (global.get $n))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
(register "counter" $counter)
(assert_return (invoke $counter "inc") (i32.const 1))

(thread $a (shared (module $counter))
  (register "counter" $counter)
  (module $user
    (import "counter" "inc" (func $inc (result i32)))
    (import "counter" "base" (global $base i32))
    (func (export "inc-times") (param $k i32)
      (loop $again
        (drop (call $inc))
        (br_if $again (local.tee $k (i32.sub (local.get $k) (i32.const 1))))))
    (func (export "base") (result i32) (global.get $base)))
  (invoke "inc-times" (i32.const 50))
  (assert_return (invoke "base") (i32.const 100))
  (assert_return (invoke $counter "add" (i32.const 2) (i32.const 3)) (i32.const 5))
  (assert_return (get $counter "base") (i32.const 100)))

(thread $b (shared (module $counter))
  (register "counter" $counter)
  (module
    (import "counter" "inc" (func $inc (result i32)))
    (func (export "inc-times") (param $k i32)
      (loop $again
        (drop (call $inc))
        (br_if $again (local.tee $k (i32.sub (local.get $k) (i32.const 1)))))))
  (invoke "inc-times" (i32.const 70))
  ;; A thread of a thread reaches the same instance.
  (thread $inner (shared (module $counter))
    (assert_return (invoke $counter "add" (i32.const 40) (i32.const 2)) (i32.const 42))
    (invoke $counter "inc"))
  (wait $inner))

;; A thread that shares nothing runs modules of its own.
(thread $solo
  (module (func (export "seven") (result i32) (i32.const 7)))
  (assert_return (invoke "seven") (i32.const 7))
  (assert_unlinkable
    (module (import "counter" "inc" (func (result i32))))
    "unknown import"))

;; The parent keeps running its own directives while the threads run.
(assert_return (invoke $counter "add" (i32.const 1) (i32.const 1)) (i32.const 2))

(wait $a)
(wait $b)
(wait $solo)
(assert_return (invoke $counter "get") (i32.const 122))

;; A thread never waited for still runs, its calls answered, before the
;; script ends.
(thread $late (shared (module $counter))
  (assert_return (invoke $counter "add" (i32.const 5) (i32.const 6)) (i32.const 11)))
