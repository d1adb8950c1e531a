;; For lun_module_instantiates_surely: one page of memory whose data segment
;; ends exactly at the page's end, a table filled by an element segment, and
;; an exported function to call.
(module
  (memory 1)
  (table 2 funcref)
  (data (i32.const 65532) "\01\02\03\04")
  (elem (i32.const 0) $f $f)
  (func $f (export "f") (result i32) (i32.load (i32.const 65532)))
)
