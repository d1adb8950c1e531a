;; Host functions calling back into the guest (trap barriers).
(module
  (import "env" "catch_work" (func $catch_work (param i32) (result i32)))
  (import "env" "catch_try" (func $catch_try (param i32) (result i32)))
  (import "env" "wait" (func $wait (param i32) (result i32)))
  ;; 10 * x, trapping for x = 0, waiting (suspending) for x = 7.
  (func $work (export "work") (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then unreachable))
    (if (i32.eq (local.get 0) (i32.const 7))
      (then (return (i32.mul (call $wait (local.get 0)) (i32.const 10)))))
    (i32.mul (local.get 0) (i32.const 10)))
  ;; catch_work(x) + 1, where a trap in work gives -1; traps itself for x = 5.
  (func $try (export "try") (param i32) (result i32)
    (if (i32.eq (local.get 0) (i32.const 5)) (then (drop (i32.div_u (i32.const 1) (i32.const 0)))))
    (i32.add (call $catch_work (local.get 0)) (i32.const 1)))
  ;; catch_try(x) + 100: two barriers deep.
  (func (export "nested") (param i32) (result i32)
    (i32.add (call $catch_try (local.get 0)) (i32.const 100)))
  (func (export "trap_later") (param i32) (result i32)
    (drop (call $catch_work (local.get 0)))
    (unreachable))
)
