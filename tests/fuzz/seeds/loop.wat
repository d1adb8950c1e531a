;; Seed: a counting loop storing into memory, and an endless loop (fuel).
(module
  (memory 1)
  (func (export "fill") (result i32) (local i32)
    (loop $next
      (i32.store8 (local.get 0) (local.get 0))
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get 0) (i32.const 1000))))
    (i32.load (i32.const 996)))
  (func (export "forever")
    (loop $again (br $again))))
