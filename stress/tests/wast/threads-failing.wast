;; A failed assertion on a script thread fails the script: exactly one
;; failure (the second assertion in $wrong), named for the thread.

(module $m (func (export "one") (result i32) (i32.const 1)))

(thread $right (shared (module $m))
  (assert_return (invoke $m "one") (i32.const 1)))

(thread $wrong (shared (module $m))
  (assert_return (invoke $m "one") (i32.const 1))
  (assert_return (invoke $m "one") (i32.const 2)))

(wait $right)
(wait $wrong)
(assert_return (invoke $m "one") (i32.const 1))
