;; Exports a memory, a mutable global, a table and functions using them.
(module
  (memory (export "mem") 1)
  (global $g (export "g") (mut i32) (i32.const 5))
  (table (export "tab") 2 funcref)
  (elem (i32.const 0) $peek)
  (data (i32.const 0) "\2a\00\00\00")
  (func $peek (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "bump") (result i32)
    (global.set $g (i32.add (global.get $g) (i32.const 1)))
    (global.get $g))
)
