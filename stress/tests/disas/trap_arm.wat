;; Checks whose failure path only traps (a bounds check's `br_if` over a
;; panic, an assertion's `if` around `unreachable`): the statements after
;; them stay in the group of those before, so each loads through the entry
;; the function's first guard loaded. The panic path's own statements (the
;; call's argument, the `unreachable`) are a group of their own.
;; disas: --func 1 --debug
(module
  (func $panic (param i32))
  (func (param i32) (result i32) (local i32)
    (block $ok
      (br_if $ok (i32.lt_u (local.get 0) (i32.const 100)))
      (call $panic (local.get 0))
      unreachable)
    (local.set 1 (i32.mul (local.get 0) (i32.const 3)))
    (if (i32.eqz (local.get 1)) (then unreachable))
    (local.set 1 (i32.add (local.get 1) (i32.const 1)))
    (local.get 1)))
