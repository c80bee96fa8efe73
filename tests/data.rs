//! Reading and writing runs through the public API: CSV and JSON.

use scaling_laws::data::{
    read_runs_csv, read_runs_csv_from_reader, read_runs_json, runs_from_json, runs_to_json,
    write_runs_csv, CsvOptions, FlopModel, Run,
};
use scaling_laws::Error;

fn read(csv: &str) -> scaling_laws::Result<Vec<Run>> {
    read_runs_csv_from_reader(csv.as_bytes(), &CsvOptions::new())
}

fn read_with(csv: &str, options: &CsvOptions) -> scaling_laws::Result<Vec<Run>> {
    read_runs_csv_from_reader(csv.as_bytes(), options)
}

fn rel_close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs()
}

/// A unique path in the system temp dir (no tempfile dependency).
fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("scaling_laws_data_{}_{name}", std::process::id()))
}

// ---------------------------------------------------------------------------------------------
// CSV: happy paths
// ---------------------------------------------------------------------------------------------

#[test]
fn csv_default_columns() {
    let runs = read("params,tokens,loss\n1e8,2e9,3.1\n4e8,8e9,2.9\n1e9,2e10,2.6\n").unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0], Run::new(1e8, 2e9, 3.1).unwrap());
    assert_eq!(runs[2].params(), 1e9);
    assert_eq!(runs[2].tokens(), 2e10);
    assert_eq!(runs[2].loss(), 2.6);
    assert_eq!(runs[2].flops(), 6.0 * 1e9 * 2e10);
    assert_eq!(runs[2].unique_tokens(), None);
    assert_eq!(runs[2].id(), None);
}

#[test]
fn csv_header_only_gives_no_runs() {
    assert_eq!(read("params,tokens,loss\n").unwrap(), vec![]);
}

#[test]
fn csv_custom_column_names() {
    let csv = "N;D;final loss;name\n1e8;2e9;3.1;a\n1e9;2e10;2.6;b\n";
    let options = CsvOptions::new()
        .with_params_column("N")
        .with_tokens_column("D")
        .with_loss_column("final loss")
        .with_id_column("name")
        .with_delimiter(b';');
    let runs = read_with(csv, &options).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].tokens(), 2e10);
    assert_eq!(runs[1].loss(), 2.6);
    assert_eq!(runs[0].id(), Some("a"));
    assert_eq!(runs[1].id(), Some("b"));
}

#[test]
fn csv_tab_separated() {
    let options = CsvOptions::new().with_delimiter(b'\t');
    let runs = read_with("params\ttokens\tloss\n1e8\t2e9\t3.1\n", &options).unwrap();
    assert_eq!(runs[0], Run::new(1e8, 2e9, 3.1).unwrap());
}

#[test]
fn csv_flops_without_tokens_derives_tokens() {
    let (n, d) = (7.3e8_f64, 1.9e10_f64);
    let c = 6.0 * n * d;
    let csv = format!("params,flops,loss\n{n:e},{c:e},2.7\n");
    let runs = read(&csv).unwrap();
    assert!(
        rel_close(runs[0].tokens(), d, 1e-12),
        "{}",
        runs[0].tokens()
    );
    assert_eq!(runs[0].flops(), c);
    // And back: 6ND of the derived tokens reproduces C.
    assert!(rel_close(6.0 * n * runs[0].tokens(), c, 1e-12));
}

#[test]
fn csv_flops_without_tokens_uses_the_flop_model() {
    let model = FlopModel::Kaplan {
        n_layer: 12.0,
        n_ctx: 1024.0,
        d_model: 768.0,
    };
    let (n, d) = (8.5e7_f64, 3e9_f64);
    let c = model.flops(n, d);
    let options = CsvOptions::new().with_flop_model(model);
    let runs = read_with(&format!("params,flops,loss\n{n},{c},3.0\n"), &options).unwrap();
    assert!(rel_close(runs[0].tokens(), d, 1e-12));
}

#[test]
fn csv_tokens_without_flops_derives_flops_with_the_flop_model() {
    let options = CsvOptions::new().with_flop_model(FlopModel::PerTokenParam { k: 8.0 });
    let runs = read_with("params,tokens,loss\n1e8,2e9,3.1\n", &options).unwrap();
    assert_eq!(runs[0].flops(), 8.0 * 1e8 * 2e9);
}

#[test]
fn csv_all_three_keeps_explicit_flops() {
    // Flops deliberately not 6ND: kept as given.
    let runs = read("params,tokens,flops,loss\n1e8,2e9,1.5e18,3.1\n").unwrap();
    assert_eq!(runs[0].flops(), 1.5e18);
    assert_eq!(runs[0].tokens(), 2e9);
}

#[test]
fn csv_flops_consistency_check() {
    let options = CsvOptions::new().with_flops_consistency_check(0.01);
    let ok = "params,tokens,flops,loss\n1e8,2e9,1.2e18,3.1\n1e8,2e9,1.205e18,3.0\n";
    assert_eq!(read_with(ok, &options).unwrap().len(), 2);
    let bad = "params,tokens,flops,loss\n1e8,2e9,1.2e18,3.1\n1e8,2e9,1.5e18,3.0\n";
    let err = read_with(bad, &options).unwrap_err();
    assert!(
        matches!(err, Error::OutOfDomain { ref field, row: Some(2), value, .. }
            if field == "flops" && value == 1.5e18),
        "{err:?}"
    );
    assert!(err.to_string().contains("6ND"), "{err}");
    let e = read_with(ok, &CsvOptions::new().with_flops_consistency_check(-1.0)).unwrap_err();
    assert!(matches!(e, Error::InvalidOption { .. }), "{e:?}");
}

#[test]
fn csv_without_flops_column_ignores_it() {
    let options = CsvOptions::new().without_flops_column();
    let runs = read_with("params,tokens,flops,loss\n1e8,2e9,1.5e18,3.1\n", &options).unwrap();
    assert_eq!(runs[0].flops(), 1.2e18);
}

#[test]
fn csv_scientific_notation_and_whitespace() {
    let csv = "params , tokens,loss\n  1.6e10 ,\t3.2E+11 , 2.5e0\n1_6,1,1\n";
    let err = read(csv).unwrap_err();
    // The first row parses; the second's '1_6' does not.
    assert!(err.to_string().contains("row 2"), "{err}");
    let runs = read("params , tokens,loss\n  1.6e10 ,\t3.2E+11 , 2.5e0\n").unwrap();
    assert_eq!(runs[0].params(), 1.6e10);
    assert_eq!(runs[0].tokens(), 3.2e11);
    assert_eq!(runs[0].loss(), 2.5);
}

#[test]
fn csv_quoted_fields() {
    let csv = "\"params\",\"tokens\",\"loss\",\"id\"\n\" 1e8 \",\"2e9\",\"3.1\",\"a, b\"\n";
    let runs = read(csv).unwrap();
    assert_eq!(runs[0].params(), 1e8);
    assert_eq!(runs[0].id(), Some("a, b"));
}

#[test]
fn csv_extra_columns_ignored() {
    let csv = "lr,params,notes,tokens,loss,seed\n3e-4,1e8,hello world,2e9,3.1,7\n";
    let runs = read(csv).unwrap();
    assert_eq!(runs[0], Run::new(1e8, 2e9, 3.1).unwrap());
}

#[test]
fn csv_optional_columns_used_when_present() {
    let csv = "params,tokens,loss,unique_tokens,id\n1e8,2e9,3.1,5e8,run-a\n";
    let runs = read(csv).unwrap();
    assert_eq!(runs[0].unique_tokens(), Some(5e8));
    assert_eq!(runs[0].id(), Some("run-a"));
    let options = CsvOptions::new()
        .without_unique_tokens_column()
        .without_id_column();
    let runs = read_with(csv, &options).unwrap();
    assert_eq!(runs[0].unique_tokens(), None);
    assert_eq!(runs[0].id(), None);
}

#[test]
fn csv_with_byte_order_mark() {
    let runs = read("\u{feff}params,tokens,loss\n1e8,2e9,3.1\n").unwrap();
    assert_eq!(runs.len(), 1);
}

#[test]
fn csv_windows_line_endings() {
    let runs = read("params,tokens,loss\r\n1e8,2e9,3.1\r\n1e9,2e10,2.6\r\n").unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].loss(), 2.6);
}

#[test]
fn csv_n_rows_in_n_runs_out() {
    let mut csv = String::from("params,tokens,loss\n");
    for i in 1..=1000 {
        csv.push_str(&format!("{}e6,{}e8,{}\n", i, i, 1.0 + 1.0 / i as f64));
    }
    let runs = read(&csv).unwrap();
    assert_eq!(runs.len(), 1000);
    assert_eq!(runs[999].params(), 1e9);
    assert_eq!(runs[999].loss(), 1.001);
}

#[test]
fn csv_from_file_and_missing_file() {
    let path = temp_path("runs.csv");
    std::fs::write(&path, "params,tokens,loss\n1e8,2e9,3.1\n").unwrap();
    let runs = read_runs_csv(&path, &CsvOptions::new()).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(runs.len(), 1);

    let missing = temp_path("does_not_exist.csv");
    let err = read_runs_csv(&missing, &CsvOptions::new()).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(err.to_string().contains("does_not_exist.csv"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// CSV: errors
// ---------------------------------------------------------------------------------------------

#[test]
fn csv_bad_number_names_row_column_and_text() {
    let csv = "params,tokens,loss\n1e8,2e9,3.1\n2e8,4e9,2.9\n4e8,8e9,2.7.1\n1e9,2e10,2.6\n";
    let err = read(csv).unwrap_err();
    assert_eq!(
        err,
        Error::Parse {
            row: Some(3),
            column: Some("loss".into()),
            message: "cannot parse '2.7.1' as a number".into(),
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("row 3"), "{msg}");
    assert!(msg.contains("loss"), "{msg}");
    assert!(msg.contains("2.7.1"), "{msg}");
}

#[test]
fn csv_bad_number_in_custom_column_names_that_column() {
    let options = CsvOptions::new().with_params_column("N");
    let err = read_with("N,tokens,loss\n1e8,2e9,3.1\n1O0,2e9,3.1\n", &options).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 2: column 'N': cannot parse '1O0' as a number"
    );
}

#[test]
fn csv_missing_column_lists_header() {
    let err = read("params,tokens,final_loss\n1e8,2e9,3.1\n").unwrap_err();
    assert_eq!(
        err,
        Error::MissingColumn {
            column: "loss".into(),
            available: "params, tokens, final_loss".into(),
        }
    );
    let err = read("tokens,loss\n2e9,3.1\n").unwrap_err();
    assert!(matches!(err, Error::MissingColumn { ref column, .. } if column == "params"));
}

#[test]
fn csv_neither_tokens_nor_flops_is_missing_column() {
    let err = read("params,loss\n1e8,3.1\n").unwrap_err();
    assert!(
        matches!(err, Error::MissingColumn { ref column, ref available } if column == "tokens" && available == "params, loss"),
        "{err:?}"
    );
}

#[test]
fn csv_explicitly_named_optional_column_is_required() {
    let options = CsvOptions::new().with_tokens_column("D");
    let err = read_with("params,flops,loss\n1e8,1.2e18,3.1\n", &options).unwrap_err();
    assert!(matches!(err, Error::MissingColumn { ref column, .. } if column == "D"));
    let options = CsvOptions::new().with_id_column("run");
    let err = read_with("params,tokens,loss\n1e8,2e9,3.1\n", &options).unwrap_err();
    assert!(matches!(err, Error::MissingColumn { ref column, .. } if column == "run"));
}

#[test]
fn csv_empty_cell_is_an_error() {
    let err = read("params,tokens,loss\n1e8,2e9,3.1\n2e8,,2.9\n").unwrap_err();
    assert_eq!(
        err,
        Error::Parse {
            row: Some(2),
            column: Some("tokens".into()),
            message: "empty cell".into(),
        }
    );
    // Whitespace only is empty too.
    let err = read("params,tokens,loss\n1e8,2e9,   \n").unwrap_err();
    assert!(err.to_string().contains("row 1"), "{err}");
    assert!(err.to_string().contains("loss"), "{err}");
}

#[test]
fn csv_empty_optional_cells() {
    let csv = "params,tokens,loss,unique_tokens,id\n1e8,2e9,3.1,,a\n1e8,2e9,3.0,1e9,\n";
    let strict = CsvOptions::new().with_empty_optional_cells(false);
    let err = read_with(csv, &strict).unwrap_err();
    assert!(
        matches!(err, Error::Parse { row: Some(1), ref column, .. } if column.as_deref() == Some("unique_tokens")),
        "{err:?}"
    );
    // The default: an empty optional cell means "not given" (as write_runs_csv writes it).
    assert_eq!(
        read(csv).unwrap(),
        read_with(csv, &CsvOptions::new()).unwrap()
    );
    let options = CsvOptions::new().with_empty_optional_cells(true);
    let runs = read_with(csv, &options).unwrap();
    assert_eq!(runs[0].unique_tokens(), None);
    assert_eq!(runs[0].id(), Some("a"));
    assert_eq!(runs[1].unique_tokens(), Some(1e9));
    assert_eq!(runs[1].id(), None);
    // Required numeric cells stay required.
    let err = read_with("params,tokens,loss\n1e8,,3.1\n", &options).unwrap_err();
    assert!(matches!(err, Error::Parse { row: Some(1), .. }));
}

#[test]
fn csv_ragged_rows_are_errors() {
    let err = read("params,tokens,loss\n1e8,2e9,3.1\n2e8,4e9\n").unwrap_err();
    assert!(
        matches!(err, Error::Parse { row: Some(2), column: None, ref message } if message.contains("3") && message.contains("2")),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("row 2"), "{err}");
    let err = read("params,tokens,loss\n1e8,2e9,3.1,9\n").unwrap_err();
    assert!(matches!(err, Error::Parse { row: Some(1), .. }), "{err:?}");
}

#[test]
fn csv_non_finite_and_non_positive_values_name_row_and_column() {
    let err = read("params,tokens,loss\n1e8,2e9,3.1\n1e8,2e9,NaN\n").unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { ref field, row: Some(2), value } if field == "loss" && value.is_nan()),
        "{err:?}"
    );
    let err = read("params,tokens,loss\n1e8,inf,3.1\n").unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { ref field, row: Some(1), .. } if field == "tokens"),
        "{err:?}"
    );
    let options = CsvOptions::new().with_params_column("N");
    let err = read_with("N,tokens,loss\n1e8,2e9,3.1\n-1e8,2e9,3.1\n", &options).unwrap_err();
    assert_eq!(err.to_string(), "N at row 2 must be > 0, got -100000000");
    let err = read("params,tokens,loss\n0,2e9,3.1\n").unwrap_err();
    assert!(matches!(err, Error::OutOfDomain { ref field, row: Some(1), .. } if field == "params"));
}

#[test]
fn csv_derived_overflow_names_flops_and_row() {
    let err = read("params,tokens,loss\n1e8,2e9,3.1\n1e200,1e200,3.1\n").unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { ref field, row: Some(2), .. } if field == "flops"),
        "{err:?}"
    );
}

#[test]
fn csv_unique_tokens_above_tokens() {
    let err = read("params,tokens,loss,unique_tokens\n1e8,2e9,3.1,3e9\n").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("unique_tokens at row 1"), "{msg}");
    assert!(
        msg.contains("2000000000") && msg.contains("3000000000"),
        "{msg}"
    );
}

#[test]
fn csv_duplicate_header_column_is_an_error() {
    let err = read("params,loss,tokens,loss\n1e8,3.1,2e9,3.0\n").unwrap_err();
    assert!(
        matches!(err, Error::Parse { row: None, ref column, .. } if column.as_deref() == Some("loss")),
        "{err:?}"
    );
}

#[test]
fn csv_empty_input_is_an_error() {
    let err = read("").unwrap_err();
    assert!(matches!(err, Error::Parse { row: None, .. }), "{err:?}");
}

#[test]
fn csv_invalid_options() {
    let csv = "params,tokens,loss\n1e8,2e9,3.1\n";
    let same = CsvOptions::new().with_tokens_column("params");
    assert!(matches!(
        read_with(csv, &same).unwrap_err(),
        Error::InvalidOption { .. }
    ));
    let neither = CsvOptions::new()
        .without_tokens_column()
        .without_flops_column();
    assert!(matches!(
        read_with(csv, &neither).unwrap_err(),
        Error::InvalidOption { .. }
    ));
    let quote = CsvOptions::new().with_delimiter(b'"');
    assert!(matches!(
        read_with(csv, &quote).unwrap_err(),
        Error::InvalidOption { .. }
    ));
    let model = CsvOptions::new().with_flop_model(FlopModel::PerTokenParam { k: 0.0 });
    assert!(matches!(
        read_with(csv, &model).unwrap_err(),
        Error::InvalidOption { ref name, .. } if name == "k"
    ));
}

#[test]
fn csv_invalid_utf8_names_row() {
    let mut bytes = b"params,tokens,loss,id\n1e8,2e9,3.1,a\n1e8,2e9,3.1,".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
    let err = read_runs_csv_from_reader(bytes.as_slice(), &CsvOptions::new()).unwrap_err();
    assert!(matches!(err, Error::Parse { row: Some(2), .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// CSV writer
// ---------------------------------------------------------------------------------------------

#[test]
fn csv_write_read_round_trip() {
    let runs = vec![
        Run::new(1e8, 2e9, 3.1).unwrap().with_id("small, v2"),
        Run::with_flops(1.0 / 3.0, 1e-5, 2.0, 7.0)
            .unwrap()
            .with_unique_tokens(1e-6)
            .unwrap(),
        Run::new(6.02e23, 1.5e15, 0.1).unwrap().with_id("\"big\""),
    ];
    let mut buf = Vec::new();
    write_runs_csv(&mut buf, &runs).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(
        text.starts_with("params,tokens,loss,flops,unique_tokens,id\n"),
        "{text}"
    );
    // Mixed presence of optional values reads back with the defaults.
    assert_eq!(read(&text).unwrap(), runs);

    // Without optional values: only the four core columns, reads back with defaults.
    let plain = vec![Run::new(1e8, 2e9, 3.1).unwrap()];
    let mut buf = Vec::new();
    write_runs_csv(&mut buf, &plain).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert_eq!(
        text,
        "params,tokens,loss,flops\n100000000,2000000000,3.1,1.2e18\n"
    );
    assert_eq!(read(&text).unwrap(), plain);
}

// ---------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------

fn sample_runs() -> Vec<Run> {
    vec![
        Run::new(1e8, 2e9, 3.1).unwrap(),
        Run::with_flop_model(4e8, 8e9, 2.9, &FlopModel::PerTokenParam { k: 8.0 })
            .unwrap()
            .with_id("mid"),
        Run::with_flops(1.6e10, 3.2e11, 2.25, 3.5e22)
            .unwrap()
            .with_unique_tokens(1e11)
            .unwrap()
            .with_id(" spaced id "),
    ]
}

#[test]
fn json_round_trip_equality() {
    let runs = sample_runs();
    let json = runs_to_json(&runs).unwrap();
    assert_eq!(runs_from_json(&json).unwrap(), runs);
    // Each run also round-trips through serde directly.
    for r in &runs {
        let s = serde_json::to_string(r).unwrap();
        assert_eq!(&serde_json::from_str::<Run>(&s).unwrap(), r);
    }
}

#[test]
fn json_shape() {
    let json = runs_to_json(&[Run::new(1.0, 2.0, 3.0).unwrap().with_id("x")]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"params": 1.0, "tokens": 2.0, "loss": 3.0, "flops": 12.0, "id": "x"}])
    );
}

#[test]
fn json_negative_loss_names_field_and_index() {
    let json = r#"[
        {"params": 1e8, "tokens": 2e9, "loss": 3.1},
        {"params": 1e8, "tokens": 2e9, "loss": -3.1}
    ]"#;
    let err = runs_from_json(json).unwrap_err();
    assert_eq!(
        err,
        Error::OutOfDomain {
            field: "loss".into(),
            row: Some(2),
            value: -3.1,
            requirement: "> 0".into(),
        }
    );
    assert_eq!(err.to_string(), "loss at row 2 must be > 0, got -3.1");
    // Deserializing a single run validates too.
    let err = serde_json::from_str::<Run>(r#"{"params": 1, "tokens": 2, "loss": 0}"#).unwrap_err();
    assert!(err.to_string().contains("loss"), "{err}");
}

#[test]
fn json_unique_tokens_above_tokens_rejected() {
    let json = r#"[{"params": 1, "tokens": 2, "loss": 3, "unique_tokens": 5}]"#;
    let err = runs_from_json(json).unwrap_err();
    assert!(
        matches!(err, Error::OutOfDomain { ref field, row: Some(1), .. } if field == "unique_tokens"),
        "{err:?}"
    );
}

#[test]
fn json_flops_optional_on_input() {
    let runs = runs_from_json(r#"[{"params": 1e8, "tokens": 2e9, "loss": 3.1}]"#).unwrap();
    assert_eq!(runs[0].flops(), 1.2e18);
}

#[test]
fn json_malformed_and_wrong_shape() {
    let err = runs_from_json("[{\"params\": 1e8,\n \"tokens\": }]").unwrap_err();
    assert!(matches!(err, Error::Parse { row: None, .. }), "{err:?}");
    assert!(err.to_string().contains("line 2"), "{err}");

    let err = runs_from_json(r#"[{"params": "1e8", "tokens": 2e9, "loss": 3.1}]"#).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err:?}");

    let err = runs_from_json(r#"[{"params": 1e8, "tokens": 2e9}]"#).unwrap_err();
    assert!(err.to_string().contains("loss"), "{err}");

    // Typos are not silently ignored.
    let err = runs_from_json(r#"[{"params": 1, "tokens": 2, "loss": 3, "unique_token": 1}]"#)
        .unwrap_err();
    assert!(err.to_string().contains("unique_token"), "{err}");

    let err = runs_from_json(r#"{"params": 1, "tokens": 2, "loss": 3}"#).unwrap_err();
    assert!(matches!(err, Error::Parse { .. }), "{err:?}");
}

#[test]
fn json_from_file() {
    let path = temp_path("runs.json");
    let runs = sample_runs();
    std::fs::write(&path, runs_to_json(&runs).unwrap()).unwrap();
    let back = read_runs_json(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(back, runs);

    let err = read_runs_json(temp_path("nope.json")).unwrap_err();
    assert!(
        matches!(err, Error::Io(ref m) if m.contains("nope.json")),
        "{err:?}"
    );
}

#[test]
fn csv_blank_lines_are_skipped_and_not_counted() {
    let runs = read("params,tokens,loss\n1e8,2e9,3.1\n\n1e9,2e10,2.6\n\n").unwrap();
    assert_eq!(runs.len(), 2);
    let err = read("params,tokens,loss\n1e8,2e9,3.1\n\n1e9,2e10,2.6x\n").unwrap_err();
    assert!(err.to_string().starts_with("row 2: "), "{err}");
}
