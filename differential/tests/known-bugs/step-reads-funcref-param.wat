(module
  (type (;0;) (func (param f32 funcref) (result f64 f64 f64)))
  (table (;0;) 0 787 externref)
  (table (;1;) 223 459 externref)
  (global (;0;) f32 f32.const 0x1.37243cp-10 (;=0.0011869108;))
  (global (;1;) (mut f32) f32.const -0x1.a07e6ep+87 (;=-251755100000000000000000000;))
  (global (;2;) (mut f32) f32.const 0x1.f814a4p-70 (;=0.0000000000000000000016678629;))
  (global (;3;) (mut i32) i32.const 0)
  (global (;4;) (mut i64) i64.const 0)
  (global (;5;) (mut i32) i32.const 0)
  (global (;6;) (mut i64) i64.const 0)
  (global (;7;) (mut i32) i32.const 1000)
  (export "" (func 0))
  (export "1" (func 1))
  (export "2" (table 0))
  (export "3" (table 1))
  (export "4" (global 0))
  (export "5" (global 1))
  (export "6" (global 2))
  (export "7" (global 3))
  (export "(" (global 4))
  (export "\u{9}A;u\u{1f}" (global 5))
  (export "\u{1ac}" (global 6))
  (func (;0;) (type 0) (param f32 funcref) (result f64 f64 f64)
    (local f64 f32 f32 f32 f32 f32)
    global.get 7
    i32.eqz
    if ;; label = @1
      unreachable
    end
    global.get 7
    i32.const 1
    i32.sub
    global.set 7
    local.get 1
    loop (result externref) ;; label = @1
      global.get 7
      i32.eqz
      if ;; label = @2
        unreachable
      end
      global.get 7
      i32.const 1
      i32.sub
      global.set 7
      i64.const 4139525583423206063
      f32.const 0x1.bf9eccp+73 (;=16514274000000000000000;)
      i32.reinterpret_f32
      if (result f32) ;; label = @2
        f64.const -nan:0xfffffffffbfff (;=NaN;)
        block (result i64) ;; label = @3
          f64.const -0x1.e7f2d5fe15206p+260 (;=-3531286578748004700000000000000000000000000000000000000000000000000000000000000;)
          local.get 1
          i32.const -443737731
          br 2 (;@1;)
          f32.reinterpret_i32
          i32.trunc_f32_s
          i64.extend_i32_s
          br 2 (;@1;)
          f64.reinterpret_i64
          f64.trunc
          local.tee 2
          f64.const nan (;=NaN;)
          local.get 2
          local.get 2
          f64.eq
          select
          i64.trunc_f64_s
          local.get 1
          table.size 1
          block (result i64) ;; label = @4
            f32.const 0x1.p-144 (;=0.000000000000000000000000000000000000000000045;)
            i32.trunc_sat_f32_u
            block (result f32) ;; label = @5
              local.get 0
              local.set 0
              loop (result i32) ;; label = @6
                global.get 7
                i32.eqz
                if ;; label = @7
                  unreachable
                end
                global.get 7
                i32.const 1
                i32.sub
                global.set 7
                global.get 1
                f32.neg
                f32.abs
                block (result funcref) ;; label = @7
                  ref.null func
                  i64.const 6164393887883201439
                  table.size 1
                  if ;; label = @8
                    loop ;; label = @9
                      global.get 7
                      i32.eqz
                      if ;; label = @10
                        unreachable
                      end
                      global.get 7
                      i32.const 1
                      i32.sub
                      global.set 7
                      table.size 0
                      f32.convert_i32_u
                      ref.null extern
                      local.get 0
                      block (result i64) ;; label = @10
                        global.get 1
                        f32.trunc
                        local.tee 3
                        f32.const nan (;=NaN;)
                        local.get 3
                        local.get 3
                        f32.eq
                        select
                        f32.trunc
                        local.tee 4
                        f32.const nan (;=NaN;)
                        local.get 4
                        local.get 4
                        f32.eq
                        select
                        local.get 0
                        i32.const -262145
                        i32.eqz
                        br_table 1 (;@9;) 2 (;@8;) 4 (;@6;) 9 (;@1;) 2 (;@8;)
                        loop ;; label = @11
                          global.get 7
                          i32.eqz
                          if ;; label = @12
                            unreachable
                          end
                          global.get 7
                          i32.const 1
                          i32.sub
                          global.set 7
                          global.get 2
                          i64.trunc_sat_f32_u
                          i64.popcnt
                          local.get 1
                          local.tee 1
                          ref.null func
                          local.set 1
                          loop ;; label = @12
                            global.get 7
                            i32.eqz
                            if ;; label = @13
                              unreachable
                            end
                            global.get 7
                            i32.const 1
                            i32.sub
                            global.set 7
                            block (result f32) ;; label = @13
                              global.get 1
                            end
                            ref.null extern
                            ref.is_null
                            br_table 0 (;@12;) 1 (;@11;) 3 (;@9;) 4 (;@8;) 6 (;@6;) 11 (;@1;) 11 (;@1;)
                            f32.ceil
                            local.tee 5
                            f32.const nan (;=NaN;)
                            local.get 5
                            local.get 5
                            f32.eq
                            select
                            f32.floor
                            local.tee 6
                            f32.const nan (;=NaN;)
                            local.get 6
                            local.get 6
                            f32.eq
                            select
                            f64.const 0x1.8f9995b7949f8p+649 (;=3646302000971092000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                            local.get 1
                            local.tee 1
                            local.get 1
                            local.tee 1
                            i32.const 459
                            i32.extend16_s
                            loop (result i32) ;; label = @13
                              global.get 7
                              i32.eqz
                              if ;; label = @14
                                unreachable
                              end
                              global.get 7
                              i32.const 1
                              i32.sub
                              global.set 7
                              br 5 (;@8;)
                              f32.const 0x1.p-145 (;=0.000000000000000000000000000000000000000000022;)
                              i64.trunc_f32_u
                              i64.popcnt
                              i64.eqz
                              i32.clz
                              if (result funcref) ;; label = @14
                                f32.const -nan:0x7fffe0 (;=NaN;)
                                br 2 (;@12;)
                                i64.const 32768
                                i64.popcnt
                                i32.wrap_i64
                                i32.popcnt
                                i64.const 576460752303423487
                                i64.ctz
                                f64.convert_i64_s
                                block (result i64) ;; label = @15
                                  ref.null func
                                  block (result f64) ;; label = @16
                                    loop ;; label = @17
                                      global.get 7
                                      i32.eqz
                                      if ;; label = @18
                                        unreachable
                                      end
                                      global.get 7
                                      i32.const 1
                                      i32.sub
                                      global.set 7
                                      i32.const -65537
                                      i64.extend_i32_s
                                      i64.extend8_s
                                      i64.ctz
                                      br 16 (;@1;)
                                      i64.extend16_s
                                      f32.convert_i64_s
                                      br 4 (;@13;)
                                      i32.trunc_f32_s
                                      i32.extend16_s
                                      br_table 0 (;@17;) 4 (;@13;) 5 (;@12;) 6 (;@11;) 8 (;@9;) 9 (;@8;) 11 (;@6;) 16 (;@1;) 6 (;@11;)
                                      nop
                                    end
                                    br 15 (;@1;)
                                    local.get 1
                                    block ;; label = @17
                                      local.get 1
                                      block ;; label = @18
                                        table.size 1
                                        ref.null extern
                                        table.size 1
                                        i32.extend16_s
                                        local.get 1
                                        f64.const 0x1.c6c685467c369p+646 (;=518721520334257340000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                                        ref.null func
                                        global.get 0
                                        i64.trunc_sat_f32_s
                                        loop ;; label = @19
                                          global.get 7
                                          i32.eqz
                                          if ;; label = @20
                                            unreachable
                                          end
                                          global.get 7
                                          i32.const 1
                                          i32.sub
                                          global.set 7
                                          local.get 0
                                          br 8 (;@11;)
                                          i64.trunc_sat_f32_s
                                          i32.wrap_i64
                                          loop (result externref) ;; label = @20
                                            global.get 7
                                            i32.eqz
                                            if ;; label = @21
                                              unreachable
                                            end
                                            global.get 7
                                            i32.const 1
                                            i32.sub
                                            global.set 7
                                            ref.null func
                                            ref.null extern
                                            block ;; label = @21
                                            end
                                            br 0 (;@20;)
                                            block ;; label = @21
                                              f32.const 0x1.fep-142 (;=0.000000000000000000000000000000000000000000357;)
                                              f64.promote_f32
                                              i64.trunc_sat_f64_u
                                              i64.extend8_s
                                              local.get 1
                                              i32.const -1843564564
                                              i32.eqz
                                              f32.convert_i32_u
                                              i32.trunc_f32_u
                                              table.get 1
                                              local.get 1
                                              block (result i64) ;; label = @22
                                                i32.const 111154590
                                                br_table 1 (;@21;) 2 (;@20;) 3 (;@19;) 4 (;@18;) 5 (;@17;) 9 (;@13;) 10 (;@12;) 11 (;@11;) 13 (;@9;) 14 (;@8;) 16 (;@6;) 21 (;@1;) 16 (;@6;)
                                                local.get 1
                                                local.tee 1
                                                loop (result f32) ;; label = @23
                                                  global.get 7
                                                  i32.eqz
                                                  if ;; label = @24
                                                    unreachable
                                                  end
                                                  global.get 7
                                                  i32.const 1
                                                  i32.sub
                                                  global.set 7
                                                  global.get 1
                                                  i32.trunc_sat_f32_s
                                                  i32.extend16_s
                                                  br_table 0 (;@23;) 2 (;@21;) 3 (;@20;) 4 (;@19;) 5 (;@18;) 6 (;@17;) 10 (;@13;) 11 (;@12;) 12 (;@11;) 14 (;@9;) 15 (;@8;) 17 (;@6;) 22 (;@1;) 14 (;@9;)
                                                  br 12 (;@11;)
                                                  br 14 (;@9;)
                                                  ref.null extern
                                                  f32.const -0x1.fffffep+112 (;=-10384593000000000000000000000000000;)
                                                  f32.neg
                                                  i32.trunc_sat_f32_s
                                                  local.get 0
                                                  i64.trunc_sat_f32_u
                                                  block ;; label = @24
                                                    block ;; label = @25
                                                      br 19 (;@6;)
                                                      table.size 1
                                                      f32.convert_i32_s
                                                      local.get 0
                                                      f32.const -nan:0x7fe000 (;=NaN;)
                                                      f32.sqrt
                                                      local.tee 7
                                                      f32.const nan (;=NaN;)
                                                      local.get 7
                                                      local.get 7
                                                      f32.eq
                                                      select
                                                      i32.reinterpret_f32
                                                      global.get 3
                                                      i32.xor
                                                      global.set 3
                                                      i32.reinterpret_f32
                                                      global.get 3
                                                      i32.xor
                                                      global.set 3
                                                      i32.reinterpret_f32
                                                      global.get 3
                                                      i32.xor
                                                      global.set 3
                                                    end
                                                  end
                                                  global.get 4
                                                  i64.xor
                                                  global.set 4
                                                  global.get 5
                                                  i32.xor
                                                  global.set 5
                                                  drop
                                                  f32.const -0x1p+121 (;=-2658456000000000000000000000000000000;)
                                                end
                                                i32.reinterpret_f32
                                                global.get 3
                                                i32.xor
                                                global.set 3
                                                drop
                                                i64.const 7148428494174419855
                                              end
                                              global.get 4
                                              i64.xor
                                              global.set 4
                                              drop
                                              drop
                                              drop
                                              global.get 4
                                              i64.xor
                                              global.set 4
                                            end
                                            drop
                                            drop
                                            ref.null extern
                                          end
                                          drop
                                          drop
                                        end
                                        global.get 4
                                        i64.xor
                                        global.set 4
                                        drop
                                        i64.reinterpret_f64
                                        global.get 6
                                        i64.xor
                                        global.set 6
                                        drop
                                        global.get 5
                                        i32.xor
                                        global.set 5
                                        drop
                                        global.get 5
                                        i32.xor
                                        global.set 5
                                      end
                                      drop
                                    end
                                    drop
                                    f64.const 0x1.59f3c6097e59cp+743 (;=62526333208114810000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                                  end
                                  i64.reinterpret_f64
                                  global.get 6
                                  i64.xor
                                  global.set 6
                                  drop
                                  i64.const -4611686018427387904
                                end
                                global.get 4
                                i64.xor
                                global.set 4
                                i64.reinterpret_f64
                                global.get 6
                                i64.xor
                                global.set 6
                                global.get 5
                                i32.xor
                                global.set 5
                                i32.reinterpret_f32
                                global.get 3
                                i32.xor
                                global.set 3
                                ref.null func
                              else
                                ref.null func
                              end
                              drop
                              i32.const 65536
                            end
                            global.get 5
                            i32.xor
                            global.set 5
                            global.get 5
                            i32.xor
                            global.set 5
                            drop
                            drop
                            i64.reinterpret_f64
                            global.get 6
                            i64.xor
                            global.set 6
                            i32.reinterpret_f32
                            global.get 3
                            i32.xor
                            global.set 3
                          end
                          drop
                          global.get 4
                          i64.xor
                          global.set 4
                        end
                        i32.reinterpret_f32
                        global.get 3
                        i32.xor
                        global.set 3
                        i32.reinterpret_f32
                        global.get 3
                        i32.xor
                        global.set 3
                        i64.const -4241459202898172847
                      end
                      global.get 4
                      i64.xor
                      global.set 4
                      i32.reinterpret_f32
                      global.get 3
                      i32.xor
                      global.set 3
                      drop
                      i32.reinterpret_f32
                      global.get 3
                      i32.xor
                      global.set 3
                    end
                  end
                  global.get 4
                  i64.xor
                  global.set 4
                end
                drop
                i32.reinterpret_f32
                global.get 3
                i32.xor
                global.set 3
                i32.const 4194304
              end
              global.get 5
              i32.xor
              global.set 5
              f32.const -0x1.745ad2p+36 (;=-99953220000;)
            end
            i32.reinterpret_f32
            global.get 3
            i32.xor
            global.set 3
            drop
            i64.const 536870911
          end
          global.get 4
          i64.xor
          global.set 4
          global.get 5
          i32.xor
          global.set 5
          drop
          global.get 4
          i64.xor
          global.set 4
          drop
          i64.reinterpret_f64
          global.get 6
          i64.xor
          global.set 6
          i64.const 1746718173543809330
        end
        global.get 4
        i64.xor
        global.set 4
        i64.reinterpret_f64
        global.get 6
        i64.xor
        global.set 6
        f32.const 0x1.532bdp+51 (;=2983381000000000;)
      else
        f32.const -0x1.d6402ap-122 (;=-0.0000000000000000000000000000000000003454856;)
      end
      i32.reinterpret_f32
      global.get 3
      i32.xor
      global.set 3
      global.get 4
      i64.xor
      global.set 4
      ref.null extern
    end
    drop
    drop
    f64.const 0x1.p-1049 (;=0.00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000016578092;)
    f64.const -0x1.4eb644bf5411fp+174 (;=-31307655443618510000000000000000000000000000000000000;)
    f64.const 0x1.b2bb28978f8bcp-790 (;=0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000002607859311111475;)
  )
  (func (;1;) (type 0) (param f32 funcref) (result f64 f64 f64)
    (local f32 f32 f32 f32 f64 f32 f32 f32 f64)
    global.get 7
    i32.eqz
    if ;; label = @1
      unreachable
    end
    global.get 7
    i32.const 1
    i32.sub
    global.set 7
    local.get 0
    ref.null extern
    block (result i32) ;; label = @1
      local.get 0
      f32.sqrt
      local.tee 3
      f32.const nan (;=NaN;)
      local.get 3
      local.get 3
      f32.eq
      select
      f32.const 0x1.3cc51cp+21 (;=2594979.5;)
      f32.trunc
      local.tee 4
      f32.const nan (;=NaN;)
      local.get 4
      local.get 4
      f32.eq
      select
      f32.copysign
      f32.nearest
      local.tee 5
      f32.const nan (;=NaN;)
      local.get 5
      local.get 5
      f32.eq
      select
      local.set 0
      i32.const -16384
      local.get 0
      f32.neg
      i64.const 146369248372329611
      i64.ctz
      f64.convert_i64_s
      table.size 0
      i32.extend8_s
      br 0 (;@1;)
      global.get 0
      local.tee 2
      i32.trunc_sat_f32_u
      block ;; label = @2
        local.get 2
        i64.trunc_sat_f32_u
        i64.eqz
        i64.extend_i32_s
        i64.ctz
        f64.reinterpret_i64
        f64.trunc
        local.tee 6
        f64.const nan (;=NaN;)
        local.get 6
        local.get 6
        f64.eq
        select
        local.get 2
        i32.const 512
        global.get 1
        block (result f32) ;; label = @3
          ref.null extern
          f32.const -nan:0x7fff00 (;=NaN;)
          i64.trunc_sat_f32_u
          i32.wrap_i64
          block (result i64) ;; label = @4
            local.get 0
            i64.const 1450689979341312772
            i64.clz
            i64.ctz
            f32.convert_i64_u
            br 1 (;@3;)
            table.size 0
            if (result i32) ;; label = @5
              f32.const 0x1.02b5b4p-46 (;=0.000000000000014361278;)
              block (result f32) ;; label = @6
                f64.const -0x1.9c70d856ad631p-106 (;=-0.000000000000000000000000000000019858302226444257;)
                i64.trunc_f64_u
                global.get 0
                f32.floor
                local.tee 7
                f32.const nan (;=NaN;)
                local.get 7
                local.get 7
                f32.eq
                select
                i32.trunc_sat_f32_s
                block (result funcref) ;; label = @7
                  f64.const -nan:0xfffffffffbfff (;=NaN;)
                  i64.trunc_sat_f64_s
                  f64.convert_i64_u
                  i64.trunc_sat_f64_u
                  f64.reinterpret_i64
                  i64.trunc_sat_f64_u
                  i64.extend32_s
                  local.get 0
                  i32.trunc_f32_s
                  i32.extend8_s
                  i32.const -33554432
                  loop ;; label = @8
                    global.get 7
                    i32.eqz
                    if ;; label = @9
                      unreachable
                    end
                    global.get 7
                    i32.const 1
                    i32.sub
                    global.set 7
                  end
                  i32.extend8_s
                  i32.div_u
                  i32.extend8_s
                  i64.const 4096
                  i64.extend16_s
                  f32.const -0x1.1d68b4p-27 (;=-0.000000008306495;)
                  local.get 1
                  local.tee 1
                  call 1
                  nop
                  i64.trunc_f64_s
                  i64.extend32_s
                  i32.wrap_i64
                  i32.extend8_s
                  f32.convert_i32_u
                  f32.const 0x1.974fa2p-69 (;=0.0000000000000000000026953585;)
                  ref.null extern
                  ref.null func
                  global.get 0
                  i32.const 417068896
                  br_if 5 (;@2;)
                  i64.const -1241904681422803519
                  f64.convert_i64_u
                  i64.trunc_f64_s
                  loop (result externref) ;; label = @8
                    global.get 7
                    i32.eqz
                    if ;; label = @9
                      unreachable
                    end
                    global.get 7
                    i32.const 1
                    i32.sub
                    global.set 7
                    f32.const 0x1.fffffep+127 (;=340282350000000000000000000000000000000;)
                    f32.neg
                    table.size 0
                    loop (result funcref) ;; label = @9
                      global.get 7
                      i32.eqz
                      if ;; label = @10
                        unreachable
                      end
                      global.get 7
                      i32.const 1
                      i32.sub
                      global.set 7
                      loop (result f32) ;; label = @10
                        global.get 7
                        i32.eqz
                        if ;; label = @11
                          unreachable
                        end
                        global.get 7
                        i32.const 1
                        i32.sub
                        global.set 7
                        f32.const 0x1.p-149 (;=0.000000000000000000000000000000000000000000001;)
                        i32.trunc_f32_u
                        block ;; label = @11
                          loop (result i32) ;; label = @12
                            global.get 7
                            i32.eqz
                            if ;; label = @13
                              unreachable
                            end
                            global.get 7
                            i32.const 1
                            i32.sub
                            global.set 7
                            table.size 0
                          end
                          table.get 0
                          ref.is_null
                          br 9 (;@2;)
                          i32.eqz
                          f32.const -0x1.12a72ap-108 (;=-0.000000000000000000000000000000003306015;)
                          f32.const 0x1.9298e4p+19 (;=824519.1;)
                          f32.ceil
                          local.tee 8
                          f32.const nan (;=NaN;)
                          local.get 8
                          local.get 8
                          f32.eq
                          select
                          f32.sqrt
                          local.tee 9
                          f32.const nan (;=NaN;)
                          local.get 9
                          local.get 9
                          f32.eq
                          select
                          f32.ne
                          i32.shl
                          nop
                          br_table 0 (;@11;) 1 (;@10;) 2 (;@9;) 3 (;@8;) 9 (;@2;) 9 (;@2;)
                          local.get 1
                          local.get 0
                          i64.trunc_f32_u
                          i64.eqz
                          i64.extend_i32_u
                          i32.wrap_i64
                          br_table 0 (;@11;) 1 (;@10;) 2 (;@9;) 3 (;@8;) 9 (;@2;) 1 (;@10;)
                          global.get 0
                          i64.const 4503599627370496
                          i64.extend16_s
                          i64.const -4724251237120156185
                          i64.mul
                          i64.eqz
                          f32.convert_i32_u
                          local.get 0
                          f64.const 0x1.6e309285a8958p+426 (;=247881636379829280000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000;)
                          block ;; label = @12
                            global.get 1
                            i32.trunc_f32_s
                            f64.const -nan:0xfffffffffdfff (;=NaN;)
                            f32.demote_f64
                            f64.const -0x1.ccf9d321cba47p-389 (;=-0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000014281371660604101;)
                            i32.const 286331153
                            global.get 0
                            i32.trunc_f32_s
                            i32.const -67108865
                            i32.ge_u
                            i32.xor
                            f64.convert_i32_u
                            f64.sub
                            local.tee 10
                            f64.const nan (;=NaN;)
                            local.get 10
                            local.get 10
                            f64.eq
                            select
                            i64.trunc_sat_f64_u
                            i64.extend8_s
                            f32.convert_i64_u
                            f32.eq
                            i32.const -16777216
                            f32.reinterpret_i32
                            i32.reinterpret_f32
                            global.get 3
                            i32.xor
                            global.set 3
                            global.get 5
                            i32.xor
                            global.set 5
                            global.get 5
                            i32.xor
                            global.set 5
                          end
                          i64.reinterpret_f64
                          global.get 6
                          i64.xor
                          global.set 6
                          i32.reinterpret_f32
                          global.get 3
                          i32.xor
                          global.set 3
                          i32.reinterpret_f32
                          global.get 3
                          i32.xor
                          global.set 3
                          i32.reinterpret_f32
                          global.get 3
                          i32.xor
                          global.set 3
                          drop
                        end
                        global.get 5
                        i32.xor
                        global.set 5
                        f32.const 0x1.p-132 (;=0.000000000000000000000000000000000000000183671;)
                      end
                      i32.reinterpret_f32
                      global.get 3
                      i32.xor
                      global.set 3
                      ref.null func
                    end
                    drop
                    global.get 5
                    i32.xor
                    global.set 5
                    i32.reinterpret_f32
                    global.get 3
                    i32.xor
                    global.set 3
                    ref.null extern
                  end
                  drop
                  global.get 4
                  i64.xor
                  global.set 4
                  i32.reinterpret_f32
                  global.get 3
                  i32.xor
                  global.set 3
                  drop
                  drop
                  i32.reinterpret_f32
                  global.get 3
                  i32.xor
                  global.set 3
                  i32.reinterpret_f32
                  global.get 3
                  i32.xor
                  global.set 3
                  i64.reinterpret_f64
                  global.get 6
                  i64.xor
                  global.set 6
                  i64.reinterpret_f64
                  global.get 6
                  i64.xor
                  global.set 6
                  global.get 4
                  i64.xor
                  global.set 4
                  global.get 5
                  i32.xor
                  global.set 5
                  global.get 4
                  i64.xor
                  global.set 4
                  ref.null func
                end
                drop
                global.get 5
                i32.xor
                global.set 5
                global.get 4
                i64.xor
                global.set 4
                f32.const 0x1.fffffep-120 (;=0.0000000000000000000000000000000000015046327;)
              end
              i32.reinterpret_f32
              global.get 3
              i32.xor
              global.set 3
              i32.reinterpret_f32
              global.get 3
              i32.xor
              global.set 3
              i32.const 562787766
            else
              i32.const -1900792253
            end
            global.get 5
            i32.xor
            global.set 5
            i32.reinterpret_f32
            global.get 3
            i32.xor
            global.set 3
            i64.const -5831716509541693138
          end
          global.get 4
          i64.xor
          global.set 4
          global.get 5
          i32.xor
          global.set 5
          drop
          f32.const -nan:0x7effff (;=NaN;)
        end
        i32.reinterpret_f32
        global.get 3
        i32.xor
        global.set 3
        i32.reinterpret_f32
        global.get 3
        i32.xor
        global.set 3
        global.get 5
        i32.xor
        global.set 5
        i32.reinterpret_f32
        global.get 3
        i32.xor
        global.set 3
        i64.reinterpret_f64
        global.get 6
        i64.xor
        global.set 6
      end
      global.get 5
      i32.xor
      global.set 5
      i64.reinterpret_f64
      global.get 6
      i64.xor
      global.set 6
      i32.reinterpret_f32
      global.get 3
      i32.xor
      global.set 3
    end
    global.get 5
    i32.xor
    global.set 5
    drop
    i32.reinterpret_f32
    global.get 3
    i32.xor
    global.set 3
    f64.const 0x1.p-1043 (;=0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000010609978955;)
    f64.const 0x1.fffffffffffffp-992 (;=0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000477830972673648;)
    f64.const -0x1.cbce1b8ad1ce7p+265 (;=-106483588139408800000000000000000000000000000000000000000000000000000000000000000;)
  )
)

