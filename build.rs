// Re-embed migrations, policies and prompts when they change.
fn main() {
    for dir in ["migrations", "policies", "prompts"] {
        println!("cargo:rerun-if-changed={dir}");
    }
    println!("cargo:rerun-if-changed=catalog.example.toml");
    println!("cargo:rerun-if-changed=directory.example.toml");
}
