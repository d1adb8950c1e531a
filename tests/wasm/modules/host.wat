;; A module calling host functions, for the suspend/resume tests.
(module
  (import "env" "wait" (func $wait (param i32) (result i32)))
  (import "env" "fail" (func $fail))
  (func (export "use_wait") (param i32) (result i32)
    (i32.add (call $wait (local.get 0)) (i32.const 1)))
  (func (export "use_fail") (call $fail))
  (func (export "wait_in_loop") (param i32) (result i32) (local i32)
    (loop
      (local.set 1 (i32.add (local.get 1) (call $wait (local.get 0))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if 0 (local.get 0)))
    (local.get 1))
)
