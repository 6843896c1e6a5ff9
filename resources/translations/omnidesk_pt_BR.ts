<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="pt_BR">
<context>
    <name>Composer</name>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="63"/>
        <source>Cancel the reply</source>
        <translation>Cancelar a resposta</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="79"/>
        <source>Write a reply… (Enter sends, Shift+Enter for a new line)</source>
        <translation>Escreva uma resposta… (Enter envia, Shift+Enter quebra a linha)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="85"/>
        <source>Send</source>
        <translation>Enviar</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/composer.py" line="107"/>
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
        <location filename="../../omnidesk/app.py" line="124"/>
        <source>Unlock saved token</source>
        <translation>Desbloquear token salvo</translation>
    </message>
    <message>
        <location filename="../../omnidesk/app.py" line="126"/>
        <source>Master password for the encrypted token file:</source>
        <translation>Senha mestra do arquivo criptografado do token:</translation>
    </message>
    <message>
        <location filename="../../omnidesk/app.py" line="224"/>
        <source>Enter your agent token to connect to the relay.</source>
        <translation>Informe seu token de agente para conectar ao relay.</translation>
    </message>
</context>
<context>
    <name>ConversationHeader</name>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="54"/>
        <source>Conversation status</source>
        <translation>Status da conversa</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="75"/>
        <source>The bot is answering this conversation</source>
        <translation>O bot está respondendo esta conversa</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="76"/>
        <source>Take over</source>
        <translation>Assumir</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="79"/>
        <source>You own this conversation</source>
        <translation>Esta conversa é sua</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="81"/>
        <source>Owned by {agent}</source>
        <translation>Com {agent}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="83"/>
        <source>Waiting for an agent</source>
        <translation>Aguardando um agente</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="84"/>
        <source>Hand back to bot</source>
        <translation>Devolver ao bot</translation>
    </message>
</context>
<context>
    <name>DetailsPane</name>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="109"/>
        <source>Details</source>
        <translation>Detalhes</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="117"/>
        <source>Channel</source>
        <translation>Canal</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="118"/>
        <source>Handle</source>
        <translation>Identificador</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="119"/>
        <source>Mode</source>
        <translation>Modo</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="120"/>
        <source>Status</source>
        <translation>Status</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="121"/>
        <source>Assignee</source>
        <translation>Responsável</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="122"/>
        <source>Handoff reason</source>
        <translation>Motivo da transferência</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="123"/>
        <source>Last activity</source>
        <translation>Última atividade</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/conversation_panes.py" line="150"/>
        <source>Nobody</source>
        <translation>Ninguém</translation>
    </message>
</context>
<context>
    <name>Errors</name>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="61"/>
        <source>{owner} already took over this conversation.</source>
        <translation>{owner} já assumiu esta conversa.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="65"/>
        <source>The relay refused your token. Enter a new one in Settings.</source>
        <translation>O relay recusou seu token. Informe um novo em Configurações.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="69"/>
        <source>The relay cannot be reached right now. Try again when you are back online.</source>
        <translation>Não foi possível alcançar o relay agora. Tente de novo quando estiver online.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="73"/>
        <source>The relay refused this: {detail}</source>
        <translation>O relay recusou: {detail}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="77"/>
        <source>The relay answered something unexpected. Details are in the log.</source>
        <translation>O relay respondeu algo inesperado. Os detalhes estão no log.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="81"/>
        <source>The disk is full: the local cache could not be saved. Free some space.</source>
        <translation>O disco está cheio: o cache local não pôde ser salvo. Libere espaço.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="85"/>
        <source>The local cache is in use by another program.</source>
        <translation>O cache local está em uso por outro programa.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="87"/>
        <source>The local cache failed: {detail}</source>
        <translation>O cache local falhou: {detail}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/ops.py" line="90"/>
        <source>Something went wrong. Details are in the log.</source>
        <translation>Algo deu errado. Os detalhes estão no log.</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="112"/>
        <source>Search messages (Ctrl+K)</source>
        <translation>Buscar mensagens (Ctrl+K)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="116"/>
        <source>All channels</source>
        <translation>Todos os canais</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="119"/>
        <source>Any status</source>
        <translation>Qualquer status</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="125"/>
        <source>Everyone</source>
        <translation>Todos</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="126"/>
        <source>Mine</source>
        <translation>Minhas</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="127"/>
        <source>Unassigned</source>
        <translation>Sem responsável</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="128"/>
        <source>With the bot</source>
        <translation>Com o bot</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="201"/>
        <source>Choose a conversation on the left.</source>
        <translation>Escolha uma conversa à esquerda.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="250"/>
        <source>&amp;Settings…</source>
        <translation>&amp;Configurações…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="253"/>
        <source>&amp;Quit</source>
        <translation>&amp;Sair</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="256"/>
        <source>&amp;Omnidesk</source>
        <translation>&amp;Omnidesk</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="291"/>
        <source>it was written by a newer version of Omnidesk</source>
        <translation>foi gravado por uma versão mais nova do Omnidesk</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="293"/>
        <source>it was damaged</source>
        <translation>estava danificado</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="297"/>
        <source>The local cache could not be used ({why}). It was moved to {path} and is being rebuilt from the relay; {count} unsent replies were kept.</source>
        <translation>Não foi possível usar o cache local ({why}). Ele foi movido para {path} e está sendo reconstruído a partir do relay; {count} respostas não enviadas foram mantidas.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="304"/>
        <source>This computer has no usable system keyring.</source>
        <translation>Este computador não tem um chaveiro do sistema utilizável.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="341"/>
        <source>New message from {name}</source>
        <translation>Nova mensagem de {name}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="358"/>
        <source>Omnidesk ({count} unread)</source>
        <translation>Omnidesk ({count} não lidas)</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="360"/>
        <source>Omnidesk</source>
        <translation>Omnidesk</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="365"/>
        <source>Signed in as {agent}</source>
        <translation>Conectado como {agent}</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="365"/>
        <source>Not signed in</source>
        <translation>Não conectado</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="384"/>
        <source>The relay refused the token. Enter a new one.</source>
        <translation>O relay recusou o token. Informe um novo.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="548"/>
        <source>Reply</source>
        <translation>Responder</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="552"/>
        <source>Cancel sending</source>
        <translation>Cancelar envio</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="557"/>
        <source>Try again</source>
        <translation>Tentar de novo</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/main_window.py" line="615"/>
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
        <location filename="../../omnidesk/ui/settings_dialog.py" line="64"/>
        <source>Settings</source>
        <translation>Configurações</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="71"/>
        <source>Leave empty to keep the current token</source>
        <translation>Deixe vazio para manter o token atual</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="74"/>
        <source>System language</source>
        <translation>Idioma do sistema</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="32"/>
        <source>The token is kept in the system keyring.</source>
        <translation>O token fica guardado no chaveiro do sistema.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="35"/>
        <source>No system keyring: the token is kept in an encrypted file, unlocked with your master password.</source>
        <translation>Sem chaveiro do sistema: o token fica em um arquivo criptografado, aberto com sua senha mestra.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="40"/>
        <source>No system keyring: the token is kept only until you quit, and asked again at the next start. It is never written to a plain file.</source>
        <translation>Sem chaveiro do sistema: o token fica guardado só até você sair e será pedido de novo na próxima abertura. Ele nunca é gravado em arquivo de texto.</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="82"/>
        <source>Relay URL</source>
        <translation>URL do relay</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="83"/>
        <source>Agent token</source>
        <translation>Token do agente</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="85"/>
        <source>Language</source>
        <translation>Idioma</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/settings_dialog.py" line="86"/>
        <source>A new language applies at the next start.</source>
        <translation>O novo idioma vale a partir da próxima abertura.</translation>
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
        <location filename="../../omnidesk/ui/texts.py" line="54"/>
        <location filename="../../omnidesk/ui/texts.py" line="66"/>
        <location filename="../../omnidesk/ui/texts.py" line="82"/>
        <source>Bot</source>
        <translation>Bot</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="56"/>
        <source>You</source>
        <translation>Você</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="68"/>
        <source>System</source>
        <translation>Sistema</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="74"/>
        <source>Open</source>
        <translation>Aberta</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="75"/>
        <source>Pending</source>
        <translation>Pendente</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="76"/>
        <source>Resolved</source>
        <translation>Resolvida</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="84"/>
        <source>Human</source>
        <translation>Humano</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="90"/>
        <source>Offline</source>
        <translation>Offline</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="91"/>
        <source>Connecting…</source>
        <translation>Conectando…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="92"/>
        <source>Live</source>
        <translation>Ao vivo</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="93"/>
        <source>Reconnecting…</source>
        <translation>Reconectando…</translation>
    </message>
    <message>
        <location filename="../../omnidesk/ui/texts.py" line="94"/>
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
