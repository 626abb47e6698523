;; A loop: its guards run on every iteration, and the table pointer's bias
;; stays fixed around the back edge.
;; disas: --func 0 --debug
(module
  (func (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (local.get 0)))
      (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1)))
