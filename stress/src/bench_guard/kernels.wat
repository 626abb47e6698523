;; The kernels of `onecopy bench guard`. Each takes its size as its one
;; argument and starts with a branch that is never taken, holding an
;; `unreachable`: configuration (d) sets its never-hit breakpoint there.
(module
  (memory 256) ;; 16 MiB, memsum's working set
  (type $op (func (param i32) (result i32)))
  (table 4 funcref)
  (elem (i32.const 0) $inc $dbl $neg $sq)

  ;; Never called: configuration (c) sets its breakpoint here.
  (func $unrelated (export "unrelated") (param i32) (result i32)
    (i32.add (local.get 0) (i32.const 1)))

  ;; The small functions `indirect` calls through the table.
  (func $inc (type $op) (i32.add (local.get 0) (i32.const 1)))
  (func $dbl (type $op) (i32.shl (local.get 0) (i32.const 1)))
  (func $neg (type $op) (i32.sub (i32.const 0) (local.get 0)))
  (func $sq (type $op) (i32.mul (local.get 0) (local.get 0)))

  ;; Calls and returns: fib(n), recursively.
  (func $fib (export "fib") (param i32) (result i32)
    (if (i32.lt_s (local.get 0) (i32.const 0)) (then unreachable))
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))

  ;; An integer loop of four statements, a load and a store each
  ;; iteration, within the first 4 KiB: n iterations.
  (func $loop (export "loop") (param i32) (result i32) (local i32 i32)
    (if (i32.lt_s (local.get 0) (i32.const 0)) (then unreachable))
    (loop $l
      (local.set 2 (i32.shl (i32.and (local.get 0) (i32.const 1023)) (i32.const 2)))
      (i32.store (local.get 2) (i32.add (i32.load (local.get 2)) (local.get 0)))
      (local.set 1 (i32.xor (local.get 1) (i32.load (local.get 2))))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1))

  ;; Memory: n rounds (at least one) of writing all 16 MiB, then a
  ;; checksum reading it back.
  (func $memsum (export "memsum") (param $n i32) (result i32) (local $i i32) (local $acc i32) (local $round i32)
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then unreachable))
    (loop $rounds
      (local.set $i (i32.const 0))
      (loop $w
        (i32.store (local.get $i) (i32.add (local.get $i) (local.get $round)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $w (i32.lt_u (local.get $i) (i32.const 16777216))))
      (local.set $i (i32.const 0))
      (loop $r
        (local.set $acc (i32.xor (i32.mul (local.get $acc) (i32.const 31)) (i32.load (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br_if $r (i32.lt_u (local.get $i) (i32.const 16777216))))
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $rounds (i32.lt_s (local.get $round) (local.get $n))))
    (local.get $acc))

  ;; call_indirect: n calls (at least one), cycling through the table's
  ;; four functions.
  (func $indirect (export "indirect") (param $n i32) (result i32) (local $i i32) (local $acc i32)
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then unreachable))
    (loop $l
      (local.set $acc (call_indirect (type $op) (local.get $acc) (i32.and (local.get $i) (i32.const 3))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_s (local.get $i) (local.get $n))))
    (local.get $acc)))
