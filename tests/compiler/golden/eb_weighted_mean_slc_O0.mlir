// eb_weighted_mean after decoupling (O0, tmu)
func.func @eb_weighted_mean(%table: memref<?x20xf32>, %indices: memref<?xi32>, %weights: memref<?xf32>, %offsets: memref<?xi32>) -> (%out: memref<?x20xf32> {shape = [dim(offsets, 0) - 1, 20]}) attributes {level = "slc"} {
  %offsets_d0 = tensor.dim %offsets {axis = 0} : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %c20 = arith.constant 20 : index
  %c0_0 = arith.constant 0.0 : f32
  %B = arith.subi %offsets_d0, %c1 : index
  var.decl {name = "wsum", type = f32, init = 0.0}
  slc.for %b = %c0 to %B step %c1 {
    %lo = slc.mem_stream %offsets, %b : !slc.stream<index>
    %b1 = slc.alu_stream %b, %c1 {op = "add"} : !slc.stream<index>
    %hi = slc.mem_stream %offsets, %b1 : !slc.stream<index>
    slc.for %p = %lo to %hi step %c1 {
      %id = slc.mem_stream %indices, %p : !slc.stream<index>
      %w = slc.mem_stream %weights, %p : !slc.stream<f32>
      slc.callback {event = "ite"} {
        %w_1 = slc.to_val %w : f32
        %wsum = var.get {var = "wsum"} : f32
        %v = arith.addf %wsum, %w_1 : f32
        var.set %v {var = "wsum"}
      }
      slc.for %d = %c0 to %c20 step %c1 {
        %v_1 = slc.mem_stream %table, %id, %d : !slc.stream<f32>
        slc.callback {event = "ite"} {
          %v_2 = slc.to_val %v_1 : f32
          %w_2 = slc.to_val %w : f32
          %b_1 = slc.to_val %b : index
          %d_1 = slc.to_val %d : index
          %v_3 = arith.mulf %v_2, %w_2 : f32
          %acc = memref.load %out, %b_1, %d_1 : f32
          %sum = arith.addf %acc, %v_3 : f32
          memref.store %sum, %out, %b_1, %d_1
        }
      }
    }
    slc.callback {event = "end"} {
      %b_2 = slc.to_val %b : index
      %wsum_1 = var.get {var = "wsum"} : f32
      scf.for %d_2 = %c0 to %c20 step %c1 {
        %acc_1 = memref.load %out, %b_2, %d_2 : f32
        %v_4 = arith.div_no_nan %acc_1, %wsum_1 : f32
        memref.store %v_4, %out, %b_2, %d_2
      }
      var.set %c0_0 {var = "wsum"}
    }
  }
}
