;; A memory of no pages that can grow: stores trap until it has grown.
(module
  (memory 0 1)
  (func (export "store") (param i32) (i32.store8 (local.get 0) (i32.const 1)))
  (func (export "grow") (result i32) (memory.grow (i32.const 1)))
)
