// eb_weighted_mean after promote_accumulators (O3, tmu)
func.func @eb_weighted_mean(%table: memref<?x20xf32>, %indices: memref<?xi32>, %weights: memref<?xf32>, %offsets: memref<?xi32>) -> (%out: memref<?x20xf32> {shape = [dim(offsets, 0) - 1, 20]}) attributes {level = "slc"} {
  %c16 = arith.constant 16 : index
  %offsets_d0 = tensor.dim %offsets {axis = 0} : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %c20 = arith.constant 20 : index
  %c0_0 = arith.constant 0.0 : f32
  var.decl {name = "b_counter", type = index, init = 0}
  var.decl {name = "out_row0", type = vector<16xf32>, init = 0.0}
  var.decl {name = "out_row16", type = vector<16xf32>, init = 0.0}
  %B = arith.subi %offsets_d0, %c1 : index
  var.decl {name = "wsum", type = f32, init = 0.0}
  slc.for %b = %c0 to %B step %c1 {
    %lo = slc.mem_stream %offsets, %b : !slc.stream<index>
    %b1 = slc.alu_stream %b, %c1 {op = "add"} : !slc.stream<index>
    %hi = slc.mem_stream %offsets, %b1 : !slc.stream<index>
    slc.for %p = %lo to %hi step %c1 {
      %id = slc.mem_stream %indices, %p : !slc.stream<index>
      %w = slc.mem_stream %weights, %p : !slc.stream<f32>
      slc.for<16> %d = %c0 to %c20 step %c1 {
        %v = slc.mem_stream %table, %id, %d : !slc.stream<vector<16xf32>>
        %v_buf = slc.buf_stream %v : !slc.stream<buffer<?xf32>>
      }
      slc.callback {event = "end"} {
        %w_1 = slc.to_val %w : f32
        %v_buf_1 = slc.to_val %v_buf : buffer<?xf32>
        %wsum = var.get {var = "wsum"} : f32
        %v_1 = arith.addf %wsum, %w_1 : f32
        var.set %v_1 {var = "wsum"}
        %w_splat = vector.broadcast %w_1 : vector<16xf32>
        %d_mask = vector.mask %c0, %c20 : vector<16xi1>
        %v_2 = buffer.load %v_buf_1, %c0, %d_mask : vector<16xf32>
        %v_3 = arith.mulf %v_2, %w_splat : vector<16xf32>
        %acc = var.get {var = "out_row0"} : vector<16xf32>
        %sum = arith.addf %acc, %v_3 : vector<16xf32>
        var.set %sum {var = "out_row0"}
        %d_mask_1 = vector.mask %c16, %c20 : vector<16xi1>
        %v_4 = buffer.load %v_buf_1, %c16, %d_mask_1 : vector<16xf32>
        %v_5 = arith.mulf %v_4, %w_splat : vector<16xf32>
        %acc_1 = var.get {var = "out_row16"} : vector<16xf32>
        %sum_1 = arith.addf %acc_1, %v_5 : vector<16xf32>
        var.set %sum_1 {var = "out_row16"}
      }
    }
    slc.callback {event = "end"} {
      %wsum_1 = var.get {var = "wsum"} : f32
      %wsum_splat = vector.broadcast %wsum_1 : vector<16xf32>
      %acc_2 = var.get {var = "out_row0"} : vector<16xf32>
      %v_6 = arith.div_no_nan %acc_2, %wsum_splat : vector<16xf32>
      var.set %v_6 {var = "out_row0"}
      %acc_3 = var.get {var = "out_row16"} : vector<16xf32>
      %v_7 = arith.div_no_nan %acc_3, %wsum_splat : vector<16xf32>
      var.set %v_7 {var = "out_row16"}
      var.set %c0_0 {var = "wsum"}
    }
    slc.callback {event = "end"} {
      %row = var.get {var = "b_counter"} : index
      %out_row0 = var.get {var = "out_row0"} : vector<16xf32>
      %row_mask = vector.mask %c0, %c16 : vector<16xi1>
      vector.store %out_row0, %out, %row, %c0, %row_mask
      %zeros = vector.broadcast %c0_0 : vector<16xf32>
      var.set %zeros {var = "out_row0"}
      %out_row16 = var.get {var = "out_row16"} : vector<16xf32>
      %row_mask_1 = vector.mask %c16, %c20 : vector<16xi1>
      vector.store %out_row16, %out, %row, %c16, %row_mask_1
      %zeros_1 = vector.broadcast %c0_0 : vector<16xf32>
      var.set %zeros_1 {var = "out_row16"}
      %b_1 = var.get {var = "b_counter"} : index
      %b_next = arith.addi %b_1, %c1 : index
      var.set %b_next {var = "b_counter"}
    }
  }
}
