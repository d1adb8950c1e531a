;; Each export writes one way a guest can, far from the data segment, for
;; the test that a released memory is handed out clean again (a release
;; clears only the written window, so every kind of write must widen it).
;; One page, growing to four (into another chunk).
(module
  (memory 1 4)
  (data (i32.const 20000) "segment")
  (data $passive "passive")
  (func (export "i32_store") (i32.store (i32.const 40000) (i32.const -1)))
  (func (export "i32_store8") (i32.store8 (i32.const 65535) (i32.const 5)))
  (func (export "i32_store16") (i32.store16 (i32.const 0) (i32.const 0x0101)))
  (func (export "i64_store") (i64.store offset=8 (i32.const 50000) (i64.const -1)))
  (func (export "i64_store32") (i64.store32 (i32.const 45000) (i64.const -1)))
  (func (export "f64_add_store")
    (f64.store (i32.const 8192) (f64.add (f64.const 1.5) (f64.load (i32.const 8192)))))
  (func (export "f32_mul_store")
    (f32.store (i32.const 12288) (f32.mul (f32.const 2) (f32.const 3))))
  (func (export "f64_mul_add_store") (param)
    (f64.store (i32.const 60000)
      (f64.add (f64.const 1) (f64.mul (f64.const 2) (f64.const 3)))))
  (func (export "store_in_loop") (local $i i32)
    (loop $next
      (i32.store8 (i32.add (i32.const 30000) (local.get $i)) (i32.const 9))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 16)))))
  (func (export "memory_fill") (memory.fill (i32.const 40000) (i32.const 7) (i32.const 100)))
  (func (export "memory_copy") (memory.copy (i32.const 50000) (i32.const 20000) (i32.const 7)))
  (func (export "memory_init") (memory.init $passive (i32.const 55000) (i32.const 0) (i32.const 7)))
  (func (export "grow_and_store")
    (drop (memory.grow (i32.const 3)))
    (i64.store (i32.const 200000) (i64.const -1)))
  (func (export "get") (param i32) (result i32) (i32.load8_u (local.get 0)))
)
