// eb_weighted_mean after input (O0, tmu)
func.func @eb_weighted_mean(%table: memref<?x20xf32>, %indices: memref<?xi32>, %weights: memref<?xf32>, %offsets: memref<?xi32>) -> (%out: memref<?x20xf32> {shape = [dim(offsets, 0) - 1, 20]}) attributes {level = "scf"} {
  %offsets_d0 = tensor.dim %offsets {axis = 0} : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %c20 = arith.constant 20 : index
  %c0_0 = arith.constant 0.0 : f32
  %B = arith.subi %offsets_d0, %c1 : index
  var.decl {name = "wsum", type = f32, init = 0.0}
  scf.for %b = %c0 to %B step %c1 {
    %lo = memref.load %offsets, %b : index
    %b1 = arith.addi %b, %c1 : index
    %hi = memref.load %offsets, %b1 : index
    scf.for %p = %lo to %hi step %c1 {
      %id = memref.load %indices, %p : index
      %w = memref.load %weights, %p : f32
      %wsum = var.get {var = "wsum"} : f32
      %v = arith.addf %wsum, %w : f32
      var.set %v {var = "wsum"}
      scf.for %d = %c0 to %c20 step %c1 {
        %v_1 = memref.load %table, %id, %d : f32
        %v_2 = arith.mulf %v_1, %w : f32
        %acc = memref.load %out, %b, %d : f32
        %sum = arith.addf %acc, %v_2 : f32
        memref.store %sum, %out, %b, %d
      }
    }
    %wsum_1 = var.get {var = "wsum"} : f32
    scf.for %d_1 = %c0 to %c20 step %c1 {
      %acc_1 = memref.load %out, %b, %d_1 : f32
      %v_3 = arith.div_no_nan %acc_1, %wsum_1 : f32
      memref.store %v_3, %out, %b, %d_1
    }
    var.set %c0_0 {var = "wsum"}
  }
}
