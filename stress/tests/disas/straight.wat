;; Straight-line code: one guard per statement, entry and exit.
;; disas: --func 0 --debug
;; disas: --func 0
;; disas: --func 0 --legacy
(module
  (func (param i32 i32) (result i32) (local i32)
    (local.set 2 (i32.add (local.get 0) (local.get 1)))
    (local.set 2 (i32.mul (local.get 2) (i32.const 3)))
    (local.get 2)))
