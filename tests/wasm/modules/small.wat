;; One page of memory with a data segment: for many instances at once.
(module
  (memory 1)
  (data (i32.const 0) "\11")
  (func (export "get") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "set") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
)
