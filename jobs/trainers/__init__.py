"""Fine-tuning backends behind one port: `lora` (a real LoRA fine-tune) and `command` (an external command)."""
