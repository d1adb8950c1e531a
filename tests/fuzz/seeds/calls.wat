;; Seed: calls with many parameters, multiple results and blocks with results.
(module
  (func $pair (param i64 f64) (result f64 i64)
    (local.get 1) (local.get 0))
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "fib20") (result i32) (call $fib (i32.const 20)))
  (func (export "multi") (param i64 f64) (result f64 i64)
    (call $pair (local.get 0) (local.get 1)))
  (func (export "many") (param i32 i64 f32 f64 i32 i64 f32 f64) (result i32)
    (block (result i32) (local.get 4))))
