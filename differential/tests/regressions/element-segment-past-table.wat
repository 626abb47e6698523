;; Seed 723 (first campaign): an active element segment that does not fit
;; its table. onecopy traps (table out of bounds) while instantiating; wasmi
;; reports the same as an instantiation error, not a trap code, which the
;; harness first took for a refusal. Both must read as the same trap.
(module
  (table (export "t") 1 10 funcref)
  (global (export "g") (mut i32) (i32.const 5))
  (func $f (export "f") (result i32) (global.get 0))
  (elem (i32.const 4280401666) func $f))
