<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="pt_BR">
<context>
    <name>AccountForm</name>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="73"/>
        <source>Acme Support</source>
        <translation>Suporte Acme</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="74"/>
        <source>the same as the address</source>
        <translation>o mesmo que o endereço</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="84"/>
        <source>Separate several folders with commas.</source>
        <translation>Separe várias pastas com vírgulas.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="86"/>
        <source>optional: a PEM file</source>
        <translation>opcional: um arquivo PEM</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="88"/>
        <source>Trust this certificate too (a company CA or a self-signed server).</source>
        <translation>Confiar também neste certificado (uma CA da empresa ou um servidor autoassinado).</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="92"/>
        <source>&lt;p&gt;Acme Support&lt;br&gt;+55 11 5555-0000&lt;/p&gt;</source>
        <translation>&lt;p&gt;Suporte Acme&lt;br&gt;+55 11 5555-0000&lt;/p&gt;</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="95"/>
        <source>A logo on this computer, as &lt;img src=&quot;file:///home/me/logo.png&quot;&gt;, is sent inside each reply.</source>
        <translation>Um logotipo neste computador, como &lt;img src=&quot;file:///home/me/logo.png&quot;&gt;, vai dentro de cada resposta.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="112"/>
        <source>Security “None” sends the password unencrypted, so it is allowed only for a server on this computer (localhost, 127.0.0.1).</source>
        <translation>A segurança “Nenhuma” envia a senha sem criptografia, por isso só é permitida para um servidor neste computador (localhost, 127.0.0.1).</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="117"/>
        <source>Email address</source>
        <translation>Endereço de e-mail</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="118"/>
        <source>Your name in replies</source>
        <translation>Seu nome nas respostas</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="119"/>
        <source>User name</source>
        <translation>Nome de usuário</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="120"/>
        <source>Password</source>
        <translation>Senha</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="121"/>
        <source>Incoming (IMAP)</source>
        <translation>Entrada (IMAP)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="122"/>
        <source>Outgoing (SMTP)</source>
        <translation>Saída (SMTP)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="124"/>
        <source>Folders to watch</source>
        <translation>Pastas a acompanhar</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="125"/>
        <source>Sent folder</source>
        <translation>Pasta de enviados</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="126"/>
        <source>Extra certificate</source>
        <translation>Certificado adicional</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="127"/>
        <source>Signature (HTML)</source>
        <translation>Assinatura (HTML)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="145"/>
        <source>TLS</source>
        <translation>TLS</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="146"/>
        <source>STARTTLS</source>
        <translation>STARTTLS</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="147"/>
        <source>None (this computer only)</source>
        <translation>Nenhuma (só neste computador)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="173"/>
        <source>leave empty to keep the saved password</source>
        <translation>deixe em branco para manter a senha salva</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="214"/>
        <source>Enter the password of this mailbox.</source>
        <translation>Digite a senha desta caixa de correio.</translation>
    </message>
</context>
<context>
    <name>AttachmentChip</name>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="86"/>
        <source>Remove this attachment</source>
        <translation>Remover este anexo</translation>
    </message>
</context>
<context>
    <name>CatchUpIndicator</name>
    <message>
        <location filename="../../omnidesk/ui/bars.py" line="119"/>
        <source>Catching up with the relay… {done} of {total} events</source>
        <translation>Sincronizando com o relay… {done} de {total} eventos</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="122"/>
        <source>Cancel the reply</source>
        <translation>Cancelar a resposta</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="138"/>
        <source>Write a reply… (Enter sends, Shift+Enter for a new line)</source>
        <translation>Escreva uma resposta… (Enter envia, Shift+Enter quebra a linha)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="144"/>
        <source>Send</source>
        <translation>Enviar</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="164"/>
        <source>Reply all</source>
        <translation>Responder a todos</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="166"/>
        <source>Also send the answer to everyone in To and Cc</source>
        <translation>Enviar a resposta também para todos em Para e Cc</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="167"/>
        <source>Attach…</source>
        <translation>Anexar…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="232"/>
        <source>Replying to {author}</source>
        <translation>Respondendo a {author}</translation>
    </message>
</context>
<context>
    <name>ConnectionBadge</name>
    <message>
        <location filename="../../omnidesk/ui/bars.py" line="57"/>
        <source>Relay: {state}</source>
        <translation>Relay: {state}</translation>
    </message>
</context>
<context>
    <name>Console</name>
    <message>
        <location filename="../../omnidesk/app.py" line="130"/>
        <source>Unlock saved passwords</source>
        <translation>Desbloquear senhas salvas</translation>
    </message>
    <message>
        <location filename="../../omnidesk/app.py" line="132"/>
        <source>Master password for the encrypted file of your token and passwords:</source>
        <translation>Senha mestra do arquivo criptografado do seu token e senhas:</translation>
    </message>
    <message>
        <location filename="../../omnidesk/app.py" line="281"/>
        <source>Enter your agent token to connect to the relay, or add a mail account.</source>
        <translation>Digite seu token de agente para conectar ao relay, ou adicione uma conta de e-mail.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/app_mail.py" line="66"/>
        <source>Email could not start: {error}</source>
        <translation>O e-mail não pôde iniciar: {error}</translation>
    </message>
</context>
<context>
    <name>ConversationHeader</name>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="60"/>
        <source>Conversation status</source>
        <translation>Status da conversa</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="84"/>
        <source>Email: your answer goes out from {address}</source>
        <translation>E-mail: sua resposta sai de {address}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="87"/>
        <source>The bot is answering this conversation</source>
        <translation>O bot está respondendo esta conversa</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="88"/>
        <source>Take over</source>
        <translation>Assumir</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="91"/>
        <source>You own this conversation</source>
        <translation>Esta conversa é sua</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="93"/>
        <source>Owned by {agent}</source>
        <translation>Com {agent}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="95"/>
        <source>Waiting for an agent</source>
        <translation>Aguardando um agente</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="96"/>
        <source>Hand back to bot</source>
        <translation>Devolver ao bot</translation>
    </message>
</context>
<context>
    <name>Demo</name>
    <message>
        <location filename="../../omnidesk/demo.py" line="61"/>
        <source>The bot is off: RabbitMQ is not reachable at {address}; conversations stay with agents.</source>
        <translation>O bot está desligado: o RabbitMQ não responde em {address}; as conversas ficam com os agentes.</translation>
    </message>
</context>
<context>
    <name>DetailsPane</name>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="128"/>
        <source>Details</source>
        <translation>Detalhes</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="137"/>
        <source>Channel</source>
        <translation>Canal</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="138"/>
        <source>Handle</source>
        <translation>Identificador</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="139"/>
        <source>Mode</source>
        <translation>Modo</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="140"/>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="141"/>
        <source>Assignee</source>
        <translation>Responsável</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="142"/>
        <source>Handoff reason</source>
        <translation>Motivo da transferência</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="143"/>
        <source>Last activity</source>
        <translation>Última atividade</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="152"/>
        <source>Other conversations with this contact</source>
        <translation>Outras conversas com este contato</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="195"/>
        <source>Nobody</source>
        <translation>Ninguém</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="204"/>
        <source>None so far.</source>
        <translation>Nenhuma até agora.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="211"/>
        <source>(no subject)</source>
        <translation>(sem assunto)</translation>
    </message>
</context>
<context>
    <name>Errors</name>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="71"/>
        <source>{owner} already took over this conversation.</source>
        <translation>{owner} já assumiu esta conversa.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="75"/>
        <source>The relay refused your token. Enter a new one in Settings.</source>
        <translation>O relay recusou seu token. Informe um novo em Configurações.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="79"/>
        <source>The relay cannot be reached right now. Try again when you are back online.</source>
        <translation>Não foi possível alcançar o relay agora. Tente de novo quando estiver online.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="83"/>
        <source>The relay refused this: {detail}</source>
        <translation>O relay recusou: {detail}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="87"/>
        <source>The relay answered something unexpected. Details are in the log.</source>
        <translation>O relay respondeu algo inesperado. Os detalhes estão no log.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="91"/>
        <source>The disk is full: the local cache could not be saved. Free some space.</source>
        <translation>O disco está cheio: o cache local não pôde ser salvo. Libere espaço.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="95"/>
        <source>The local cache is in use by another program.</source>
        <translation>O cache local está em uso por outro programa.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="97"/>
        <source>The local cache failed: {detail}</source>
        <translation>O cache local falhou: {detail}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="100"/>
        <source>Something went wrong. Details are in the log.</source>
        <translation>Algo deu errado. Os detalhes estão no log.</translation>
    </message>
</context>
<context>
    <name>MailAccountsDialog</name>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="49"/>
        <source>Passwords are kept in the system keyring, never in the settings file.</source>
        <translation>As senhas ficam no chaveiro do sistema, nunca no arquivo de configurações.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="53"/>
        <source>No system keyring: passwords are kept in an encrypted file, unlocked with your master password.</source>
        <translation>Sem chaveiro do sistema: as senhas ficam em um arquivo criptografado, desbloqueado com sua senha mestra.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="58"/>
        <source>No system keyring: passwords are kept only until you quit and asked again at the next start. They are never written to a plain file.</source>
        <translation>Sem chaveiro do sistema: as senhas ficam guardadas só até você sair e são pedidas de novo no próximo início. Nunca são gravadas em um arquivo comum.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="243"/>
        <source>Mail accounts</source>
        <translation>Contas de e-mail</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="275"/>
        <source>Add…</source>
        <translation>Adicionar…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="278"/>
        <source>Edit…</source>
        <translation>Editar…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="281"/>
        <source>Remove</source>
        <translation>Remover</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="284"/>
        <source>Close</source>
        <translation>Fechar</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="302"/>
        <source>No mail account yet. Add one to answer email here.</source>
        <translation>Nenhuma conta de e-mail ainda. Adicione uma para responder e-mails aqui.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="313"/>
        <source>Not started</source>
        <translation>Não iniciada</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="357"/>
        <source>Check</source>
        <translation>Verificar</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="359"/>
        <source>Log in to the IMAP and SMTP servers once</source>
        <translation>Entrar uma vez nos servidores IMAP e SMTP</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="361"/>
        <source>Save</source>
        <translation>Salvar</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="365"/>
        <source>Cancel</source>
        <translation>Cancelar</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="437"/>
        <source>Checking… (logging in to IMAP and SMTP)</source>
        <translation>Verificando… (entrando no IMAP e no SMTP)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="444"/>
        <source>Both servers accepted the login. This account is ready.</source>
        <translation>Os dois servidores aceitaram o login. Esta conta está pronta.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="450"/>
        <source>The check failed: {error}</source>
        <translation>A verificação falhou: {error}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="463"/>
        <source>Remove mail account</source>
        <translation>Remover conta de e-mail</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_accounts_dialog.py" line="465"/>
        <source>Stop syncing {address} and forget its password? Its conversations stay in the list; nothing is deleted on the server.</source>
        <translation>Parar de sincronizar {address} e esquecer a senha? As conversas continuam na lista; nada é apagado no servidor.</translation>
    </message>
</context>
<context>
    <name>MailPanel</name>
    <message>
        <location filename="../../omnidesk/ui/mail_panel.py" line="108"/>
        <source>&amp;Mail accounts…</source>
        <translation>Contas de &amp;e-mail…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_panel.py" line="259"/>
        <source>This email&apos;s account is not set up here: add it in Mail accounts.</source>
        <translation>A conta deste e-mail não está configurada aqui: adicione-a em Contas de e-mail.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_panel.py" line="301"/>
        <source>The account cannot be checked before the mail service has started.</source>
        <translation>A conta não pode ser verificada antes de o serviço de e-mail iniciar.</translation>
    </message>
</context>
<context>
    <name>MailReader</name>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="172"/>
        <source>From</source>
        <translation>De</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="172"/>
        <source>To</source>
        <translation>Para</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="172"/>
        <source>Cc</source>
        <translation>Cc</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="173"/>
        <source>Date</source>
        <translation>Data</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="188"/>
        <source>Remote images are blocked to protect your privacy.</source>
        <translation>Imagens remotas são bloqueadas para proteger sua privacidade.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="189"/>
        <source>Load remote images</source>
        <translation>Carregar imagens remotas</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="209"/>
        <source>Select a message in the thread to read it here.</source>
        <translation>Selecione uma mensagem da conversa para lê-la aqui.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="258"/>
        <source>This mail&apos;s account is not set up on this computer.</source>
        <translation>A conta deste e-mail não está configurada neste computador.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="266"/>
        <source>This mail is not in the local cache (yet).</source>
        <translation>Este e-mail (ainda) não está no cache local.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="277"/>
        <source>(no subject)</source>
        <translation>(sem assunto)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="309"/>
        <source>(unnamed)</source>
        <translation>(sem nome)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_reader.py" line="312"/>
        <source>Save…</source>
        <translation>Salvar…</translation>
    </message>
</context>
<context>
    <name>MailStatusLine</name>
    <message>
        <location filename="../../omnidesk/ui/mail_panel.py" line="60"/>
        <source>Mail accounts…</source>
        <translation>Contas de e-mail…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/mail_panel.py" line="75"/>
        <source>(and {count} more)</source>
        <translation>(e mais {count})</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="116"/>
        <source>Search messages (Ctrl+K)</source>
        <translation>Buscar mensagens (Ctrl+K)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="120"/>
        <source>All channels</source>
        <translation>Todos os canais</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="123"/>
        <source>Any status</source>
        <translation>Qualquer status</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="129"/>
        <source>Everyone</source>
        <translation>Todos</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="130"/>
        <source>Mine</source>
        <translation>Minhas</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="131"/>
        <source>Unassigned</source>
        <translation>Sem responsável</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="132"/>
        <source>With the bot</source>
        <translation>Com o bot</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="207"/>
        <source>Choose a conversation on the left.</source>
        <translation>Escolha uma conversa à esquerda.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="258"/>
        <source>&amp;Settings…</source>
        <translation>&amp;Configurações…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="261"/>
        <source>&amp;Quit</source>
        <translation>&amp;Sair</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="264"/>
        <source>&amp;Omnidesk</source>
        <translation>&amp;Omnidesk</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="314"/>
        <source>it was written by a newer version of Omnidesk</source>
        <translation>foi gravado por uma versão mais nova do Omnidesk</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="316"/>
        <source>it was damaged</source>
        <translation>estava danificado</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="320"/>
        <source>The local cache could not be used ({why}). It was moved to {path} and is being rebuilt from the relay; {count} unsent replies were kept.</source>
        <translation>Não foi possível usar o cache local ({why}). Ele foi movido para {path} e está sendo reconstruído a partir do relay; {count} respostas não enviadas foram mantidas.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="339"/>
        <source>This computer has no usable system keyring.</source>
        <translation>Este computador não tem um chaveiro do sistema utilizável.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="376"/>
        <source>New message from {name}</source>
        <translation>Nova mensagem de {name}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="393"/>
        <source>Omnidesk ({count} unread)</source>
        <translation>Omnidesk ({count} não lidas)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="395"/>
        <source>Omnidesk</source>
        <translation>Omnidesk</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="400"/>
        <source>Signed in as {agent}</source>
        <translation>Conectado como {agent}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="400"/>
        <source>Not signed in</source>
        <translation>Não conectado</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="426"/>
        <source>The relay refused the token. Enter a new one.</source>
        <translation>O relay recusou o token. Informe um novo.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="605"/>
        <source>Reply</source>
        <translation>Responder</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="608"/>
        <source>Cancel sending</source>
        <translation>Cancelar envio</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="611"/>
        <source>Try again</source>
        <translation>Tentar de novo</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="679"/>
        <source>No messages match “{query}”.</source>
        <translation>Nenhuma mensagem corresponde a “{query}”.</translation>
    </message>
</context>
<context>
    <name>NoticeBar</name>
    <message>
        <location filename="../../omnidesk/ui/bars.py" line="73"/>
        <source>Dismiss</source>
        <translation>Dispensar</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="71"/>
        <source>Settings</source>
        <translation>Configurações</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="78"/>
        <source>Leave empty to keep the current token</source>
        <translation>Deixe vazio para manter o token atual</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="81"/>
        <source>System language</source>
        <translation>Idioma do sistema</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="35"/>
        <source>The token is kept in the system keyring.</source>
        <translation>O token fica guardado no chaveiro do sistema.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="38"/>
        <source>No system keyring: the token is kept in an encrypted file, unlocked with your master password.</source>
        <translation>Sem chaveiro do sistema: o token fica em um arquivo criptografado, aberto com sua senha mestra.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="43"/>
        <source>No system keyring: the token is kept only until you quit, and asked again at the next start. It is never written to a plain file.</source>
        <translation>Sem chaveiro do sistema: o token fica guardado só até você sair e será pedido de novo na próxima abertura. Ele nunca é gravado em arquivo de texto.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="89"/>
        <source>Relay URL</source>
        <translation>URL do relay</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="90"/>
        <source>Agent token</source>
        <translation>Token do agente</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="92"/>
        <source>Language</source>
        <translation>Idioma</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="93"/>
        <source>A new language applies at the next start.</source>
        <translation>O novo idioma vale a partir da próxima abertura.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="96"/>
        <source>Mail accounts…</source>
        <translation>Contas de e-mail…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="102"/>
        <source>Mail accounts set up: {count}. The console reads and answers their email itself, with or without the relay.</source>
        <translation>Contas de e-mail configuradas: {count}. O console lê e responde os e-mails delas diretamente, com ou sem o relay.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="109"/>
        <source>Email</source>
        <translation>E-mail</translation>
    </message>
</context>
<context>
    <name>Texts</name>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="14"/>
        <source>Photo</source>
        <translation>Foto</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="15"/>
        <source>Video</source>
        <translation>Vídeo</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="16"/>
        <source>Audio</source>
        <translation>Áudio</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="17"/>
        <source>Document</source>
        <translation>Documento</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="18"/>
        <source>Sticker</source>
        <translation>Figurinha</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="19"/>
        <source>Location</source>
        <translation>Localização</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="20"/>
        <source>Contact card</source>
        <translation>Cartão de contato</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="21"/>
        <source>Interactive reply</source>
        <translation>Resposta interativa</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="22"/>
        <source>Button reply</source>
        <translation>Resposta de botão</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="23"/>
        <source>Reaction</source>
        <translation>Reação</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="24"/>
        <source>Unsupported message</source>
        <translation>Mensagem não suportada</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="65"/>
        <location filename="../../omnidesk/ui/texts.py" line="77"/>
        <location filename="../../omnidesk/ui/texts.py" line="93"/>
        <source>Bot</source>
        <translation>Bot</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="67"/>
        <source>You</source>
        <translation>Você</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="79"/>
        <source>System</source>
        <translation>Sistema</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="85"/>
        <source>Open</source>
        <translation>Aberta</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="86"/>
        <source>Pending</source>
        <translation>Pendente</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="87"/>
        <source>Resolved</source>
        <translation>Resolvida</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="95"/>
        <source>Human</source>
        <translation>Humano</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="101"/>
        <source>Offline</source>
        <translation>Offline</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="102"/>
        <source>Connecting…</source>
        <translation>Conectando…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="103"/>
        <source>Live</source>
        <translation>Ao vivo</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="104"/>
        <source>Reconnecting…</source>
        <translation>Reconectando…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="105"/>
        <source>Token needed</source>
        <translation>Token necessário</translation>
    </message>
</context>
<context>
    <name>ThreadModel</name>
    <message>
        <location filename="../../omnidesk/ui/thread_model.py" line="137"/>
        <source>You</source>
        <translation>Você</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/thread_model.py" line="157"/>
        <source>Earlier message</source>
        <translation>Mensagem anterior</translation>
    </message>
</context>
</TS>
