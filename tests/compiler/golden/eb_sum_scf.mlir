// eb_sum after input (O0, tmu)
func.func @eb_sum(%table: memref<?x64xf32>, %indices: memref<?xi32>, %offsets: memref<?xi32>) -> (%out: memref<?x64xf32> {shape = [dim(offsets, 0) - 1, 64]}) attributes {level = "scf"} {
  %offsets_d0 = tensor.dim %offsets {axis = 0} : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %B = arith.subi %offsets_d0, %c1 : index
  scf.for %b = %c0 to %B step %c1 {
    %lo = memref.load %offsets, %b : index
    %b1 = arith.addi %b, %c1 : index
    %hi = memref.load %offsets, %b1 : index
    scf.for %p = %lo to %hi step %c1 {
      %id = memref.load %indices, %p : index
      scf.for %d = %c0 to %c64 step %c1 {
        %v = memref.load %table, %id, %d : f32
        %acc = memref.load %out, %b, %d : f32
        %sum = arith.addf %acc, %v : f32
        memref.store %sum, %out, %b, %d
      }
    }
  }
}
