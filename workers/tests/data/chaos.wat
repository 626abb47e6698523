;; The chaos test's kernels (workers/tests/chaos/kernels.rs computes the same in Rust).
;; Each takes one i32 and returns one i32, so `dispatch` can reach any of them
;; through `call_indirect`. Bytes 0..256 of memory are scratch the kernels
;; never touch (the debugger writes there); `checksum` works at 1024 and up.
(module
  (type $kernel (func (param i32) (result i32)))
  (memory (export "mem") 1)
  (global $calls (export "calls") (mut i32) (i32.const 0))
  (table 4 funcref)
  (elem (i32.const 0) $fib $mix $checksum $collatz)

  (func $fib (export "fib") (type $kernel) (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; acc = acc * 31 + i for i in 0..n, in i64; folded to i32.
  (func $mix (export "mix") (type $kernel) (param $n i32) (result i32) (local $i i32) (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (i64.mul (local.get $acc) (i64.const 31)) (i64.extend_i32_u (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.xor (i32.wrap_i64 (local.get $acc)) (i32.wrap_i64 (i64.shr_u (local.get $acc) (i64.const 32)))))

  ;; Writes byte (i * 31 + n) at 1024 + i for i in 0..n (n < 60000), then
  ;; reads them back into h = rotl(h, 5) ^ byte.
  (func $checksum (export "checksum") (type $kernel) (param $n i32) (result i32) (local $i i32) (local $h i32)
    (block $written
      (loop $write
        (br_if $written (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (i32.const 1024) (local.get $i))
                    (i32.add (i32.mul (local.get $i) (i32.const 31)) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $write)))
    (local.set $i (i32.const 0))
    (block $read
      (loop $next
        (br_if $read (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $h (i32.xor (i32.rotl (local.get $h) (i32.const 5))
                               (i32.load8_u (i32.add (i32.const 1024) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $h))

  ;; Steps of the Collatz sequence from n until it reaches 1.
  (func $collatz (export "collatz") (type $kernel) (param $n i32) (result i32) (local $steps i32)
    (block $done
      (loop $next
        (br_if $done (i32.le_u (local.get $n) (i32.const 1)))
        (local.set $n (if (result i32) (i32.and (local.get $n) (i32.const 1))
          (then (i32.add (i32.mul (local.get $n) (i32.const 3)) (i32.const 1)))
          (else (i32.shr_u (local.get $n) (i32.const 1)))))
        (local.set $steps (i32.add (local.get $steps) (i32.const 1)))
        (br $next)))
    (local.get $steps))

  ;; Kernel k (0..4) of n, through the table.
  (func $dispatch (export "dispatch") (param $k i32) (param $n i32) (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (call_indirect (type $kernel) (local.get $n) (local.get $k))))
