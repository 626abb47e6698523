;; `unreachable` behind a branch: its trap and the guard before it.
;; disas: --func 0 --debug
(module
  (func (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then unreachable))
    (local.get 0)))
