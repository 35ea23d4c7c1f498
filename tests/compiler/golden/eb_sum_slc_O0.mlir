// eb_sum after decoupling (O0, tmu)
func.func @eb_sum(%table: memref<?x64xf32>, %indices: memref<?xi32>, %offsets: memref<?xi32>) -> (%out: memref<?x64xf32> {shape = [dim(offsets, 0) - 1, 64]}) attributes {level = "slc"} {
  %offsets_d0 = tensor.dim %offsets {axis = 0} : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %B = arith.subi %offsets_d0, %c1 : index
  slc.for %b = %c0 to %B step %c1 {
    %lo = slc.mem_stream %offsets, %b : !slc.stream<index>
    %b1 = slc.alu_stream %b, %c1 {op = "add"} : !slc.stream<index>
    %hi = slc.mem_stream %offsets, %b1 : !slc.stream<index>
    slc.for %p = %lo to %hi step %c1 {
      %id = slc.mem_stream %indices, %p : !slc.stream<index>
      slc.for %d = %c0 to %c64 step %c1 {
        %v = slc.mem_stream %table, %id, %d : !slc.stream<f32>
        slc.callback {event = "ite"} {
          %b_1 = slc.to_val %b : index
          %d_1 = slc.to_val %d : index
          %v_1 = slc.to_val %v : f32
          %acc = memref.load %out, %b_1, %d_1 : f32
          %sum = arith.addf %acc, %v_1 : f32
          memref.store %sum, %out, %b_1, %d_1
        }
      }
    }
  }
}
