// eb_sum after promote_accumulators (O3, tmu)
func.func @eb_sum(%table: memref<?x64xf32>, %indices: memref<?xi32>, %offsets: memref<?xi32>) -> (%out: memref<?x64xf32> {shape = [dim(offsets, 0) - 1, 64]}) attributes {level = "slc"} {
  %c0_0 = arith.constant 0.0 : f32
  %c48 = arith.constant 48 : index
  %c32 = arith.constant 32 : index
  %c16 = arith.constant 16 : index
  %offsets_d0 = tensor.dim %offsets {axis = 0} : index
  %c1 = arith.constant 1 : index
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  var.decl {name = "b_counter", type = index, init = 0}
  var.decl {name = "out_row0", type = vector<16xf32>, init = 0.0}
  var.decl {name = "out_row16", type = vector<16xf32>, init = 0.0}
  var.decl {name = "out_row32", type = vector<16xf32>, init = 0.0}
  var.decl {name = "out_row48", type = vector<16xf32>, init = 0.0}
  %B = arith.subi %offsets_d0, %c1 : index
  slc.for %b = %c0 to %B step %c1 {
    %lo = slc.mem_stream %offsets, %b : !slc.stream<index>
    %b1 = slc.alu_stream %b, %c1 {op = "add"} : !slc.stream<index>
    %hi = slc.mem_stream %offsets, %b1 : !slc.stream<index>
    slc.for %p = %lo to %hi step %c1 {
      %id = slc.mem_stream %indices, %p : !slc.stream<index>
      slc.for<16> %d = %c0 to %c64 step %c1 {
        %v = slc.mem_stream %table, %id, %d : !slc.stream<vector<16xf32>>
        %v_buf = slc.buf_stream %v : !slc.stream<buffer<?xf32>>
      }
      slc.callback {event = "end"} {
        %v_buf_1 = slc.to_val %v_buf : buffer<?xf32>
        %d_mask = vector.mask %c0, %c64 : vector<16xi1>
        %v_1 = buffer.load %v_buf_1, %c0, %d_mask : vector<16xf32>
        %acc = var.get {var = "out_row0"} : vector<16xf32>
        %sum = arith.addf %acc, %v_1 : vector<16xf32>
        var.set %sum {var = "out_row0"}
        %d_mask_1 = vector.mask %c16, %c64 : vector<16xi1>
        %v_2 = buffer.load %v_buf_1, %c16, %d_mask_1 : vector<16xf32>
        %acc_1 = var.get {var = "out_row16"} : vector<16xf32>
        %sum_1 = arith.addf %acc_1, %v_2 : vector<16xf32>
        var.set %sum_1 {var = "out_row16"}
        %d_mask_2 = vector.mask %c32, %c64 : vector<16xi1>
        %v_3 = buffer.load %v_buf_1, %c32, %d_mask_2 : vector<16xf32>
        %acc_2 = var.get {var = "out_row32"} : vector<16xf32>
        %sum_2 = arith.addf %acc_2, %v_3 : vector<16xf32>
        var.set %sum_2 {var = "out_row32"}
        %d_mask_3 = vector.mask %c48, %c64 : vector<16xi1>
        %v_4 = buffer.load %v_buf_1, %c48, %d_mask_3 : vector<16xf32>
        %acc_3 = var.get {var = "out_row48"} : vector<16xf32>
        %sum_3 = arith.addf %acc_3, %v_4 : vector<16xf32>
        var.set %sum_3 {var = "out_row48"}
      }
    }
    slc.callback {event = "end"} {
      %row = var.get {var = "b_counter"} : index
      %out_row0 = var.get {var = "out_row0"} : vector<16xf32>
      %row_mask = vector.mask %c0, %c16 : vector<16xi1>
      vector.store %out_row0, %out, %row, %c0, %row_mask
      %zeros = vector.broadcast %c0_0 : vector<16xf32>
      var.set %zeros {var = "out_row0"}
      %out_row16 = var.get {var = "out_row16"} : vector<16xf32>
      %row_mask_1 = vector.mask %c16, %c32 : vector<16xi1>
      vector.store %out_row16, %out, %row, %c16, %row_mask_1
      %zeros_1 = vector.broadcast %c0_0 : vector<16xf32>
      var.set %zeros_1 {var = "out_row16"}
      %out_row32 = var.get {var = "out_row32"} : vector<16xf32>
      %row_mask_2 = vector.mask %c32, %c48 : vector<16xi1>
      vector.store %out_row32, %out, %row, %c32, %row_mask_2
      %zeros_2 = vector.broadcast %c0_0 : vector<16xf32>
      var.set %zeros_2 {var = "out_row32"}
      %out_row48 = var.get {var = "out_row48"} : vector<16xf32>
      %row_mask_3 = vector.mask %c48, %c64 : vector<16xi1>
      vector.store %out_row48, %out, %row, %c48, %row_mask_3
      %zeros_3 = vector.broadcast %c0_0 : vector<16xf32>
      var.set %zeros_3 {var = "out_row48"}
      %b_1 = var.get {var = "b_counter"} : index
      %b_next = arith.addi %b_1, %c1 : index
      var.set %b_next {var = "b_counter"}
    }
  }
}
