;; A trap on one script thread while another keeps running, traps of a
;; shared instance seen through a thread, and stack exhaustion on a thread
;; (which needs the same big host stack as the script's own thread).

(module $m
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "boom") unreachable))

(thread $trapping (shared (module $m))
  (register "m" $m)
  (module
    (import "m" "boom" (func $boom))
    (func (export "boom-via-import") (call $boom))
    (func (export "oob") (drop (i32.load (i32.const 70000))))
    (memory 1))
  (assert_trap (invoke "oob") "out of bounds memory access")
  (assert_trap (invoke "boom-via-import") "unreachable")
  (assert_trap (invoke $m "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
  (assert_return (invoke $m "div" (i32.const 7) (i32.const 2)) (i32.const 3)))

(thread $busy
  (module
    (func (export "sum") (param $n i32) (result i64) (local $acc i64)
      (loop $again
        (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $n))))
        (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (local.get $acc))
    (func $rec (export "rec") (call $rec)))
  (assert_return (invoke "sum" (i32.const 100000)) (i64.const 5000050000))
  (assert_exhaustion (invoke "rec") "call stack exhausted")
  (assert_return (invoke "sum" (i32.const 10)) (i64.const 55)))

(assert_trap (invoke $m "boom") "unreachable")
(wait $trapping)
(wait $busy)
(assert_return (invoke $m "div" (i32.const -8) (i32.const 2)) (i32.const -4))
